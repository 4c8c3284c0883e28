package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// CreateOwnedDB creates a login role with no privilege beyond what it owns
// (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS, no
// membership in any role) and a random password, then database db owned by
// it. It returns a DSN that connects to db as that role over TCP. What such
// a role restores runs with its rights only: the server refuses it COPY TO
// PROGRAM, reading server files, untrusted languages and extensions.
func (c *Cluster) CreateOwnedDB(ctx context.Context, db, role string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a password for role %q: %w", role, err)
	}
	password := hex.EncodeToString(b)
	ident := pgx.Identifier{role}.Sanitize()
	sql := "CREATE ROLE " + ident + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '" + password + "'"
	if err := c.Exec(ctx, "postgres", sql); err != nil {
		return "", fmt.Errorf("creating role %q: %w", role, err)
	}
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER "+ident); err != nil {
		return "", err
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), Path: "/" + db, User: url.UserPassword(role, password)}
	return u.String(), nil
}
