package tlsaudit

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// PlaintextFacts says whether a PostgreSQL server lets a client proceed
// without TLS. The probe never answers an authentication request: the
// audited server is untrusted, and without TLS a password (or a hash or a
// SCRAM proof of it) would go to whoever answers.
type PlaintextFacts struct {
	Checked bool // false for tls:// targets
	// Accepted: the server took an unencrypted startup for the target's
	// user and database to authentication (pg_hba admits it) instead of
	// rejecting it.
	Accepted bool
	// Authenticated: a session was established over plaintext without any
	// credentials (trust).
	Authenticated bool
	// Auth is the authentication the server asked for over plaintext, in
	// pg_hba's words: trust, password (cleartext), md5, scram-sha-256, gss,
	// sspi; empty when it did not get that far.
	Auth   string
	Detail string // what the server answered, in words
}

// authMethods names the AuthenticationRequest codes of the v3 protocol.
var authMethods = map[uint32]string{0: "trust", 2: "kerberos", 3: "password", 5: "md5", 7: "gss", 9: "sspi", 10: "sasl"}

// probePlaintext sends an unencrypted startup message and reads the
// server's first answer, then hangs up: it learns whether pg_hba admits a
// connection without TLS and which authentication follows, without
// sending any credentials.
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
		case refusedByHBA(code, msg):
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
		f.Auth = authName(binary.BigEndian.Uint32(body), body[4:])
		switch f.Auth {
		case "trust":
			f.Authenticated, f.Detail = true, "accepted without a password (trust) over plaintext"
		case "password":
			f.Detail = "accepted to authentication over plaintext, which asked for the password in cleartext (not sent)"
		default:
			f.Detail = "accepted to authentication over plaintext, which asked for " + f.Auth + " (no credentials sent)"
		}
	default:
		f.Checked, f.Detail = false, fmt.Sprintf("unexpected answer %q to an unencrypted startup message", typ)
	}
	return f
}

// authName names an AuthenticationRequest; for SASL it names the
// mechanisms offered, lower-case (scram-sha-256).
func authName(code uint32, rest []byte) string {
	name, ok := authMethods[code]
	if !ok {
		return fmt.Sprintf("unknown (%d)", code)
	}
	if name != "sasl" {
		return name
	}
	var mechs []string
	for _, m := range bytes.Split(bytes.TrimRight(rest, "\x00"), []byte{0}) {
		if len(m) > 0 {
			mechs = append(mechs, strings.ToLower(string(m)))
		}
	}
	if len(mechs) == 0 {
		return name
	}
	return strings.Join(mechs, ",")
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

// refusedByHBA tells whether an error answer to an unencrypted startup
// message is pg_hba's refusal. Its text follows the server's lc_messages
// and version ("no encryption" since PostgreSQL 12, "SSL off" before), but
// names pg_hba.conf in every language; a refusal after pg_hba (a missing
// role) does not.
func refusedByHBA(code, msg string) bool {
	return strings.HasPrefix(code, "28") &&
		(strings.Contains(msg, "pg_hba.conf") || strings.Contains(msg, "no encryption") || strings.Contains(msg, "SSL off"))
}
