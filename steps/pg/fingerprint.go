package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TableSum is the content fingerprint of one table.
type TableSum struct {
	Rows int64
	MD5  string // md5 of the rows' text forms, sorted bytewise, joined by newlines; "" when empty
}

// UserTablesQuery counts the user tables of the current database.
const UserTablesQuery = `SELECT count(*) FROM pg_catalog.pg_tables
	WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\_toast%'`

// Fingerprint returns, for every user table of the database at dsn (keyed
// "schema.table"), its row count and an md5 over its rows in a stable
// order. Two databases with equal fingerprints hold the same data.
func Fingerprint(ctx context.Context, dsn string) (map[string]TableSum, error) {
	conn, err := Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_catalog.pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\_toast%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: listing tables: %w", err)
	}
	var tables [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, fmt.Errorf("fingerprint: listing tables: %w", err)
		}
		tables = append(tables, [2]string{s, t})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fingerprint: listing tables: %w", err)
	}
	sums := make(map[string]TableSum, len(tables))
	for _, st := range tables {
		ident := pgx.Identifier{st[0], st[1]}.Sanitize()
		var sum TableSum
		// COLLATE "C": the order must not depend on the database's locale.
		q := `SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text COLLATE "C")), '') FROM ` + ident + ` t`
		if err := conn.QueryRow(ctx, q).Scan(&sum.Rows, &sum.MD5); err != nil {
			return nil, fmt.Errorf("fingerprint: table %s: %w", ident, err)
		}
		sums[st[0]+"."+st[1]] = sum
	}
	return sums, nil
}
