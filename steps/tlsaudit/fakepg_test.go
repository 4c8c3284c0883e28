package tlsaudit

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

// fakePG is the attacker of TestCheckTLSSendsNoPasswordInCleartext: a
// listener that speaks just enough of the PostgreSQL v3 protocol to ask
// for a password. It refuses TLS ('N' to SSLRequest and GSSENCRequest),
// answers every startup message with an authentication request (auth:
// AuthenticationCleartextPassword 3, or AuthenticationMD5Password 5 with
// salt) and records every byte any client sends it. It is a fake, not a
// real PostgreSQL, because a real server never asks for a password over a
// connection it should not: the test needs a hostile one.
type fakePG struct {
	ln   net.Listener
	auth uint32
	salt [4]byte
	wg   sync.WaitGroup

	mu        sync.Mutex
	received  bytes.Buffer // everything read, all connections
	passwords int          // PasswordMessage ('p') messages received
}

func startFakePG(t *testing.T, auth uint32) *fakePG {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePG{ln: ln, auth: auth, salt: [4]byte{0x5a, 0x17, 0xc3, 0x09}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(f.stop)
	return f
}

func (f *fakePG) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// stop closes the listener and waits until every connection has ended, so
// that what they received is complete.
func (f *fakePG) stop() {
	_ = f.ln.Close()
	f.wg.Wait()
}

func (f *fakePG) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var rec bytes.Buffer
	defer func() {
		f.mu.Lock()
		f.received.Write(rec.Bytes())
		f.mu.Unlock()
	}()
	r := io.TeeReader(c, &rec)
	for {
		// Untyped startup-phase packets: length, then a code.
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n < 8 || n > 10000 {
			// Not the PostgreSQL protocol (a direct TLS ClientHello): keep
			// recording until the client gives up.
			_, _ = io.Copy(io.Discard, r)
			return
		}
		if _, err := io.CopyN(io.Discard, r, int64(n-8)); err != nil {
			return
		}
		switch binary.BigEndian.Uint32(hdr[4:]) {
		case 80877103, 80877104: // SSLRequest, GSSENCRequest
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		break
	}
	req := binary.BigEndian.AppendUint32([]byte{'R', 0, 0, 0, 0}, f.auth)
	if f.auth == 5 {
		req = append(req, f.salt[:]...)
	}
	binary.BigEndian.PutUint32(req[1:], uint32(len(req)-1))
	if _, err := c.Write(req); err != nil {
		return
	}
	for {
		typ, _, err := readMessage(r)
		if err != nil {
			return
		}
		if typ == 'p' {
			f.mu.Lock()
			f.passwords++
			f.mu.Unlock()
			fail := []byte("SFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00")
			msg := binary.BigEndian.AppendUint32([]byte{'E'}, uint32(len(fail)+4))
			_, _ = c.Write(append(msg, fail...))
			return
		}
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestCheckTLSSendsNoPasswordInCleartext audits a hostile server that
// refuses TLS and asks for a cleartext or an MD5 password, with the
// password given every way libpq-style clients take one: in the DSN (with
// sslmode verify-full, the default prefer, and disable), in PGPASSWORD, in
// PGPASSFILE and in ~/.pgpass. Nothing secret may reach the server: no
// PasswordMessage at all, neither the password nor its MD5 hashes.
func TestCheckTLSSendsNoPasswordInCleartext(t *testing.T) {
	const user, db, password = "auditor", "app", "Fake-Server-Gets-Nothing-7"
	ca := tlstest.NewCA(t, "sluice test CA")
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	for _, auth := range []struct {
		name, method string
		code         uint32
		severity     Severity
	}{{"cleartext", "password", 3, Critical}, {"md5", "md5", 5, High}} {
		for _, tc := range []struct {
			name  string
			dsn   func(port int) string
			setup func(t *testing.T, port int)
		}{
			{name: "password in the DSN, sslmode=verify-full", dsn: func(port int) string {
				return "postgres://" + user + ":" + password + "@127.0.0.1:" + strconv.Itoa(port) + "/" + db +
					"?sslmode=verify-full&sslrootcert=" + caFile
			}},
			{name: "password in the DSN, default sslmode", dsn: func(port int) string {
				return "postgres://" + user + ":" + password + "@127.0.0.1:" + strconv.Itoa(port) + "/" + db
			}},
			{name: "password in the DSN, sslmode=disable", dsn: func(port int) string {
				return "host=127.0.0.1 port=" + strconv.Itoa(port) + " user=" + user + " dbname=" + db +
					" password=" + password + " sslmode=disable"
			}},
			{name: "PGPASSWORD", setup: func(t *testing.T, _ int) { t.Setenv("PGPASSWORD", password) }},
			{name: "PGPASSFILE", setup: func(t *testing.T, port int) {
				t.Setenv("PGPASSFILE", writePassfile(t, t.TempDir(), ".pgpass", port, user, db, password))
			}},
			{name: "~/.pgpass", setup: func(t *testing.T, port int) {
				home := t.TempDir()
				writePassfile(t, home, ".pgpass", port, user, db, password)
				t.Setenv("HOME", home)
			}},
		} {
			t.Run(auth.name+"/"+tc.name, func(t *testing.T) {
				for _, k := range []string{"PGPASSWORD", "PGPASSFILE", "PGSSLMODE", "PGUSER", "PGDATABASE"} {
					t.Setenv(k, "")
				}
				t.Setenv("HOME", t.TempDir())
				srv := startFakePG(t, auth.code)
				dsn := "postgres://" + user + "@127.0.0.1:" + strconv.Itoa(srv.port()) + "/" + db
				if tc.dsn != nil {
					dsn = tc.dsn(srv.port())
				}
				if tc.setup != nil {
					tc.setup(t, srv.port())
				}
				if pt, err := ParseTarget(dsn); err != nil || pt.Password != password {
					t.Fatalf("the scenario gives no password to the client: %v", err)
				}
				r, err := Audit(context.Background(), Config{Target: dsn, Timeout: 3 * time.Second, CAFile: caFile})
				srv.stop()
				if err != nil {
					t.Fatalf("audit: %v", err)
				}
				got := srv.received.String()
				if srv.passwords > 0 {
					t.Errorf("the fake server received %d password message(s)", srv.passwords)
				}
				inner := md5hex(password + user)
				for what, secret := range map[string]string{"the password": password, "md5(password+user)": inner,
					"the salted md5 response": md5hex(inner + string(srv.salt[:]))} {
					if strings.Contains(got, secret) {
						t.Errorf("the fake server received %s", what)
					}
				}
				// The probe still learns what it can without credentials.
				if !r.Plaintext.Checked || !r.Plaintext.Accepted || r.Plaintext.Authenticated {
					t.Errorf("plaintext %+v, want accepted to authentication, not authenticated", r.Plaintext)
				}
				if r.Plaintext.Auth != auth.method {
					t.Errorf("plaintext auth %q, want %q", r.Plaintext.Auth, auth.method)
				}
				wantFinding(t, r, "plaintext-accepted", auth.severity)
				if why := r.Server.Unreadable["connection"]; r.Server.Connected || !strings.Contains(why, "only over TLS") {
					t.Errorf("server view connected %v (%q), want refused without TLS", r.Server.Connected, why)
				}
				for _, f := range r.Findings {
					if strings.Contains(f.Evidence, password) {
						t.Errorf("finding %s shows the password", f.ID)
					}
				}
			})
		}
	}
}

func writePassfile(t *testing.T, dir, name string, port int, user, db, password string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	line := "127.0.0.1:" + strconv.Itoa(port) + ":" + db + ":" + user + ":" + password + "\n"
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantFinding(t *testing.T, r *Report, id string, sev Severity) {
	t.Helper()
	for _, f := range r.Findings {
		if f.ID == id && f.Severity == sev {
			return
		}
	}
	t.Errorf("no %s:%s finding in %v", id, sev, r.Findings)
}
