package pg

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Info is what Preflight learns about a database.
type Info struct {
	ServerVersion    string // e.g. "15.13"
	ServerVersionNum int    // e.g. 150013
	Database         string
	SizeBytes        int64 // pg_database_size
}

// Version returns the server's version.
func (i Info) Version() Version { return VersionFromNum(i.ServerVersionNum) }

// ErrorKind classifies connection failures.
type ErrorKind string

// Connection failure classes.
const (
	KindUnreachable ErrorKind = "unreachable"  // nothing listens, host unknown, timeout
	KindAuth        ErrorKind = "auth"         // wrong password or user, no pg_hba entry
	KindNoDatabase  ErrorKind = "no-database"  // the database does not exist
	KindTLSRequired ErrorKind = "tls-required" // the server only accepts TLS connections
	KindTLS         ErrorKind = "tls"          // TLS refused by the server or certificate invalid
	KindBadDSN      ErrorKind = "bad-dsn"      // the DSN does not parse
	KindOther       ErrorKind = "other"
)

// ConnError is a classified, password-free connection failure.
type ConnError struct {
	Kind     ErrorKind
	Addr     string // host:port, or the socket directory
	User     string
	Database string
	msg      string
	err      error
}

// Error returns a one-line message that says what failed and what to do.
func (e *ConnError) Error() string { return e.msg }

// Unwrap returns the underlying error.
func (e *ConnError) Unwrap() error { return e.err }

// Connect opens a pgx connection to dsn and classifies a failure as a
// *ConnError.
func Connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, &ConnError{Kind: KindBadDSN, msg: "invalid connection string " + Redact(dsn) + ": check its syntax (postgres://user@host:port/db or host=... dbname=...)", err: errors.New("invalid connection string")}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(cfg, err)
	}
	return conn, nil
}

// Preflight connects to dsn and reads the server version, the database name
// and its size. Errors are *ConnError values for connection failures.
func Preflight(ctx context.Context, dsn string) (Info, error) {
	conn, err := Connect(ctx, dsn)
	if err != nil {
		return Info{}, err
	}
	defer conn.Close(context.Background())
	var info Info
	var num string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num'),
		current_database(), pg_database_size(current_database())`).Scan(&info.ServerVersion, &num, &info.Database, &info.SizeBytes)
	if err != nil {
		return Info{}, fmt.Errorf("reading server version and database size: %w", err)
	}
	info.ServerVersionNum, _ = strconv.Atoi(num)
	if i := strings.IndexByte(info.ServerVersion, ' '); i > 0 {
		info.ServerVersion = info.ServerVersion[:i] // "15.13 (Debian 15.13-1.pgdg120+1)"
	}
	return info, nil
}

func classify(cfg *pgx.ConnConfig, err error) error {
	e := &ConnError{Kind: KindOther, User: cfg.User, Database: cfg.Database, err: err}
	e.Addr = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		e.Addr = fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	text := err.Error()
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		e.Kind = KindNoDatabase
		e.msg = fmt.Sprintf("database %q does not exist on %s: create it or fix the database name", cfg.Database, e.Addr)
	case errors.As(err, &pgErr) && pgErr.Code == "28000" && strings.Contains(pgErr.Message, "no encryption"):
		e.Kind = KindTLSRequired
		e.msg = fmt.Sprintf("server %s requires TLS for user %q: connect with sslmode=require (or verify-full)", e.Addr, cfg.User)
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		e.Kind = KindAuth
		e.msg = fmt.Sprintf("authentication failed for user %q on %s: %s; check the user and password", cfg.User, e.Addr, pgErr.Message)
	case errors.As(err, &pgErr):
		e.msg = fmt.Sprintf("server %s refused the connection: %s (SQLSTATE %s)", e.Addr, pgErr.Message, pgErr.Code)
	case strings.Contains(text, "server refused TLS connection"):
		e.Kind = KindTLS
		e.msg = fmt.Sprintf("server %s does not offer TLS but the connection requires it: enable ssl on the server or lower sslmode", e.Addr)
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		e.Kind = KindTLS
		e.msg = fmt.Sprintf("TLS certificate of %s not accepted: %s; set sslrootcert to the CA that signed it or check the host name", e.Addr, innermost(err))
	case strings.Contains(text, "tls:"):
		e.Kind = KindTLS
		e.msg = fmt.Sprintf("TLS handshake with %s failed: %s", e.Addr, innermost(err))
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind = KindUnreachable
		e.msg = fmt.Sprintf("cannot connect to %s: connection refused — is the server running?", e.Addr)
	case errors.Is(err, syscall.ENOENT) && strings.HasPrefix(cfg.Host, "/"):
		e.Kind = KindUnreachable
		e.msg = fmt.Sprintf("cannot connect to %s: no such socket — is the server running?", e.Addr)
	case errors.As(err, &dnsErr):
		e.Kind = KindUnreachable
		e.msg = fmt.Sprintf("cannot resolve host %q: check the host name", cfg.Host)
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(text, "timeout"):
		e.Kind = KindUnreachable
		e.msg = fmt.Sprintf("cannot connect to %s: timed out — is the host reachable (firewall, port)?", e.Addr)
	case strings.Contains(text, "password") && strings.Contains(text, "provided"):
		e.Kind = KindAuth
		e.msg = fmt.Sprintf("server %s asks user %q for a password and none was given: put it in the DSN or PGPASSWORD", e.Addr, cfg.User)
	default:
		e.msg = fmt.Sprintf("cannot connect to %s as %q: %s", e.Addr, cfg.User, innermost(err))
	}
	return e
}

// innermost returns the text of the deepest wrapped error, which for pgx
// leaves out the connection summary.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
