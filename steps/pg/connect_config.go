package pg

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ConnectConfig connects with a parsed configuration, for callers that
// adjust it first (check-tls drops the attempts without TLS). Errors are
// *ConnError values, as Connect's are.
func ConnectConfig(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(cfg, err)
	}
	return conn, nil
}
