package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnsureDatabase creates the database named in dsn when it does not exist,
// connecting to the server's "postgres" maintenance database with the same
// credentials. It reports whether it created the database.
func EnsureDatabase(ctx context.Context, dsn string) (bool, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false, &ConnError{Kind: KindBadDSN, msg: "invalid connection string " + Redact(dsn), err: errors.New("invalid connection string")}
	}
	name := cfg.Database
	if name == "" || name == "postgres" {
		return false, nil
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connecting to the maintenance database to create %q: %w", name, classify(cfg, err))
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return false, fmt.Errorf("looking for database %q: %w", name, err)
	}
	if exists {
		return false, nil
	}
	// Not cancelled with ctx: the server would finish CREATE DATABASE
	// after the client gave up, and the caller, told nothing was created,
	// would leave it behind. An interrupt is noticed by the caller's next
	// step, which then drops what this made.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return false, fmt.Errorf("creating database %q: %w", name, err)
	}
	return true, nil
}

// DropDatabase drops the database named in dsn, connecting to the server's
// "postgres" maintenance database with the same credentials. Sessions still
// connected to it are ended first (WITH (FORCE), PostgreSQL 13 and later).
func DropDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return &ConnError{Kind: KindBadDSN, msg: "invalid connection string " + Redact(dsn), err: errors.New("invalid connection string")}
	}
	name := cfg.Database
	if name == "" || name == "postgres" {
		return fmt.Errorf("refusing to drop database %q", name)
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting to the maintenance database to drop %q: %w", name, classify(cfg, err))
	}
	defer conn.Close(context.Background())
	sql := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
	if v, err := ParseVersion(conn.PgConn().ParameterStatus("server_version")); err == nil && v.Major >= 13 {
		sql += " WITH (FORCE)"
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("dropping database %q: %w", name, err)
	}
	return nil
}
