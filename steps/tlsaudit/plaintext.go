package tlsaudit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PlaintextFacts says whether a PostgreSQL server lets a client proceed
// without TLS.
type PlaintextFacts struct {
	Checked bool // false for tls:// targets
	// Accepted: the server took an unencrypted startup for the target's
	// user and database to authentication (pg_hba admits it) instead of
	// rejecting it.
	Accepted bool
	// Authenticated: a session was established over plaintext (trust, or
	// the DSN's password was accepted).
	Authenticated bool
	Detail        string // what the server answered, in words
}

// probePlaintext sends an unencrypted startup message and reads the
// server's first answer. When the server asks for a password and the DSN
// has one, it then tries a full plaintext login with pgx (sslmode=disable).
func (d dialer) probePlaintext(ctx context.Context) PlaintextFacts {
	t := d.target
	f := PlaintextFacts{Checked: true}
	conn, err := d.dial(ctx)
	if err != nil {
		f.Checked, f.Detail = false, err.Error()
		return f
	}
	defer conn.Close()
	if _, err := conn.Write(startupMessage(t.User, t.Database)); err != nil {
		f.Checked, f.Detail = false, "sending an unencrypted startup message: "+err.Error()
		return f
	}
	typ, body, err := readMessage(conn)
	if err != nil {
		f.Checked, f.Detail = false, "reading the answer to an unencrypted startup message: "+err.Error()
		return f
	}
	switch typ {
	case 'E':
		code, msg := errorFields(body)
		switch {
		case strings.HasPrefix(code, "28") && strings.Contains(msg, "no encryption"):
			f.Detail = fmt.Sprintf("rejected by pg_hba: %s (SQLSTATE %s)", msg, code)
		case code == "57P03" || code == "53300" || code == "08P01":
			f.Checked, f.Detail = false, fmt.Sprintf("inconclusive: %s (SQLSTATE %s)", msg, code)
		default:
			// Refused later than pg_hba's TLS check (a missing role or
			// database): the unencrypted connection was let through.
			f.Accepted = true
			f.Detail = fmt.Sprintf("past pg_hba over plaintext, then refused: %s (SQLSTATE %s)", msg, code)
		}
		return f
	case 'R':
		if len(body) < 4 {
			f.Checked, f.Detail = false, "malformed authentication request"
			return f
		}
		f.Accepted = true
		if binary.BigEndian.Uint32(body) == 0 {
			f.Authenticated, f.Detail = true, "accepted without a password (trust) over plaintext"
			return f
		}
		f.Detail = "accepted to authentication over plaintext (the server asked for credentials)"
	default:
		f.Checked, f.Detail = false, fmt.Sprintf("unexpected answer %q to an unencrypted startup message", typ)
		return f
	}
	if t.Password == "" {
		f.Detail += "; no password in the DSN, so a plaintext login was not tried"
		return f
	}
	f.Authenticated, f.Detail = plaintextLogin(ctx, t, d.timeout)
	return f
}

// plaintextLogin logs in with the DSN's credentials and sslmode=disable.
func plaintextLogin(ctx context.Context, t *Target, timeout time.Duration) (bool, string) {
	cfg, err := pgx.ParseConfig(t.DSN)
	if err != nil {
		return false, "could not parse the DSN for a plaintext login"
	}
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return false, fmt.Sprintf("accepted to authentication over plaintext, but the login failed: %s (SQLSTATE %s)", pe.Message, pe.Code)
		}
		return false, "accepted to authentication over plaintext, but the login failed"
	}
	_ = conn.Close(context.Background())
	return true, "the DSN's credentials logged in over plaintext (sslmode=disable)"
}

// startupMessage builds a protocol 3.0 StartupMessage.
func startupMessage(user, database string) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0, 0, 0, 3, 0, 0})
	for _, kv := range [][2]string{{"user", user}, {"database", database}, {"application_name", "sluice-check-tls"}} {
		if kv[1] == "" {
			continue
		}
		b.WriteString(kv[0] + "\x00" + kv[1] + "\x00")
	}
	b.WriteByte(0)
	msg := b.Bytes()
	binary.BigEndian.PutUint32(msg, uint32(len(msg)))
	return msg
}

// readMessage reads one backend message (type byte, length, body).
func readMessage(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<16 {
		return 0, nil, fmt.Errorf("message length %d out of range", n)
	}
	body := make([]byte, n-4)
	_, err := io.ReadFull(r, body)
	return hdr[0], body, err
}

// errorFields returns the SQLSTATE and message of an ErrorResponse body.
func errorFields(body []byte) (code, msg string) {
	for len(body) > 1 && body[0] != 0 {
		k := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		v := string(body[1 : 1+end])
		switch k {
		case 'C':
			code = v
		case 'M':
			msg = v
		}
		body = body[2+end:]
	}
	return code, msg
}
