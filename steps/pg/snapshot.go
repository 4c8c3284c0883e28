package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Table is a table whose rows a dump holds.
type Table struct {
	Schema, Name string
	// Bytes is its size on disk without indexes (pg_table_size: the heap,
	// TOAST and maps), what pg_dump reads of it.
	Bytes int64
}

// String renders the table as a qualified, quoted name: in SQL, and as a
// pg_dump pattern that matches it and nothing else (inside double quotes
// no character of a pattern is special).
func (t Table) String() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// Snapshot is a snapshot of a database held open for the processes that
// dump it: a REPEATABLE READ transaction that locked every table whose
// rows are dumped (ACCESS SHARE, as pg_dump does) and exported its
// snapshot. Every pg_dump started with --snapshot=ID sees the database as
// of that instant, and while the transaction holds its locks no table
// can be dropped, truncated or rewritten before the process that dumps it
// has locked it too. Close ends it once every dump has ended.
type Snapshot struct {
	// ID is what pg_dump --snapshot takes.
	ID string
	// Tables are the tables whose rows a whole-database pg_dump would
	// dump, largest first (then by name), with their sizes in the
	// snapshot.
	Tables []Table
	conn   *pgx.Conn
}

// dumpedTables lists the tables pg_dump dumps the rows of: ordinary and
// partition tables (not partitioned parents, views or foreign tables)
// outside the system schemas and not members of an extension.
const dumpedTables = `
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// ExportSnapshot opens the transaction of a Snapshot of the database of
// dsn: it lists the tables, locks them, exports the snapshot and reads the
// tables' sizes. A table dropped between the list and the lock is
// retried; a lock that waits (a table locked exclusively) waits as
// pg_dump's would, until ctx ends.
func ExportSnapshot(ctx context.Context, dsn string) (*Snapshot, error) {
	conn, err := Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s, err := exportSnapshot(ctx, conn)
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return s, nil
}

func exportSnapshot(ctx context.Context, conn *pgx.Conn) (*Snapshot, error) {
	// The transaction stays open while the dumps run: a server's idle or
	// statement timeouts must not end it under them (pg_dump sets the
	// same for its own session).
	for _, set := range []string{"SET statement_timeout = 0", "SET lock_timeout = 0", "SET idle_in_transaction_session_timeout = 0"} {
		if _, err := conn.Exec(ctx, set); err != nil {
			return nil, fmt.Errorf("preparing the snapshot's session: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		s, err := lockAndExport(ctx, conn)
		var pe *pgconn.PgError
		if err != nil && errors.As(err, &pe) && pe.Code == "42P01" && attempt < 3 {
			continue // a table was dropped after the list: list again
		}
		return s, err
	}
}

func lockAndExport(ctx context.Context, conn *pgx.Conn) (*Snapshot, error) {
	rows, err := conn.Query(ctx, dumpedTables)
	if err != nil {
		return nil, fmt.Errorf("listing the tables to dump: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Table, error) {
		var t Table
		return t, r.Scan(&t.Schema, &t.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("listing the tables to dump: %w", err)
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return nil, fmt.Errorf("starting the snapshot's transaction: %w", err)
	}
	// LOCK takes no snapshot: the snapshot below is taken after every
	// table is locked, so none can change shape between the two.
	if len(tables) > 0 {
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = t.String()
		}
		if _, err := conn.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
			rollback(conn)
			return nil, fmt.Errorf("locking the tables to dump: %w", err)
		}
	}
	s := &Snapshot{conn: conn}
	if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&s.ID); err != nil {
		rollback(conn)
		return nil, fmt.Errorf("exporting the snapshot: %w", err)
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.String()
	}
	rows, err = conn.Query(ctx, "SELECT pg_table_size(t::regclass) FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i", names)
	if err == nil {
		var sizes []int64
		if sizes, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err == nil && len(sizes) == len(tables) {
			for i := range tables {
				tables[i].Bytes = sizes[i]
			}
		}
	}
	if err != nil {
		rollback(conn)
		return nil, fmt.Errorf("reading the sizes of the tables to dump: %w", err)
	}
	s.Tables = SortLargestFirst(tables)
	return s, nil
}

func rollback(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// Close ends the snapshot's transaction and its session. The processes
// that imported the snapshot keep it in their own transactions.
func (s *Snapshot) Close() error {
	if s == nil || s.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.conn.Exec(ctx, "ROLLBACK")
	if cerr := s.conn.Close(ctx); err == nil {
		err = cerr
	}
	s.conn = nil
	if err != nil {
		return fmt.Errorf("ending the snapshot's transaction: %w", err)
	}
	return nil
}
