package tlsaudit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-dev/sluice/steps/pg"
)

// Target kinds.
const (
	KindPostgres = "postgres" // a PostgreSQL server: SSLRequest, then TLS
	KindTLS      = "tls"      // any TLS endpoint: TLS from the first byte
)

// Target is a parsed audit target. DSN and Password are secrets: they never
// appear in errors or String.
type Target struct {
	Kind     string
	Host     string
	Port     int
	User     string // PostgreSQL only
	Database string // PostgreSQL only
	Password string // PostgreSQL only; empty when the DSN has none
	DSN      string // PostgreSQL only: the connection string as given

	// From the DSN's sslrootcert, sslcert and sslkey, when it has them.
	dsnRoots *x509.CertPool
	dsnCerts []tls.Certificate
}

// Addr returns host:port.
func (t *Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String returns the kind and address, without credentials.
func (t *Target) String() string { return t.Kind + "://" + t.Addr() }

// ParseTarget parses a PostgreSQL DSN (postgres://... or key=value) or a
// tls://host:port address.
func ParseTarget(s string) (*Target, error) {
	if rest, ok := strings.CutPrefix(s, "tls://"); ok {
		u, err := url.Parse("tls://" + rest)
		if err != nil || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("target %q: give tls://host:port", s)
		}
		port, err := strconv.Atoi(u.Port())
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("target %q: port must be 1-65535", s)
		}
		return &Target{Kind: KindTLS, Host: u.Hostname(), Port: port}, nil
	}
	cfg, err := pgconn.ParseConfig(s)
	if err != nil {
		// pgconn's error may quote the DSN: keep only what is safe.
		return nil, fmt.Errorf("target %s: not a PostgreSQL connection string or tls://host:port: check its syntax", pg.Redact(s))
	}
	if cfg.Host == "" || strings.HasPrefix(cfg.Host, "/") {
		return nil, errors.New("target: check-tls needs a TCP host, not a unix socket: give host= or postgres://host:port/")
	}
	t := &Target{Kind: KindPostgres, Host: cfg.Host, Port: int(cfg.Port), User: cfg.User,
		Database: cfg.Database, Password: cfg.Password, DSN: s}
	if tc := cfg.TLSConfig; tc != nil {
		t.dsnRoots, t.dsnCerts = tc.RootCAs, tc.Certificates
	}
	return t, nil
}
