package steps

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// TestIntegrationDSNPasswordsNeverReachCommandLines plays the review's
// finding: a DSN password holding ?, @, #, /, spaces and quotes must not
// appear on the command line of pg_dump, pg_restore or psql (ps shows it
// to every local user), in any DSN form libpq accepts, and the dump and the
// restore must still work. The review's own case is a URL with a raw ? in
// the password, which libpq accepts and which used to reach --dbname.
func TestIntegrationDSNPasswordsNeverReachCommandLines(t *testing.T) {
	const nasty = `Qx?7 s3@cr#t/:'"\&=%+`
	const raw = "Qx?7s3cr3t" // libpq takes ? unencoded in a URL's user info
	c := pgtest.Start(t, pg.Options{Password: nasty})
	ctx := context.Background()
	if err := c.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	pgtest.Seed(t, c, "app")
	if err := c.Exec(ctx, "postgres", "CREATE ROLE raw LOGIN SUPERUSER PASSWORD '"+raw+"'"); err != nil {
		t.Fatal(err)
	}
	want, err := pg.Fingerprint(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	hostport := "127.0.0.1:" + strconv.Itoa(c.Port)
	forms := []struct{ name, password, dsn string }{
		{"url, raw ? in the password", raw, "postgres://raw:" + raw + "@" + hostport + "/DB"},
		{"url, percent-encoded", nasty, (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", nasty), Host: hostport, Path: "/DB"}).String()},
		{"url, password parameter", nasty, "postgresql://" + hostport + "/DB?user=postgres&password=" + percentEncode(nasty) + "&sslmode=disable"},
		{"key=value", nasty, fmt.Sprintf(`host=127.0.0.1 port=%d user=postgres dbname=DB password='%s'`, c.Port,
			strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(nasty))},
	}
	sc := &runner.StepContext{ID: "s", Type: "s", Logger: hclog.NewNullLogger()}
	for i, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			leaks := func(tool, cmdline string) {
				t.Helper()
				if cmdline == "" {
					t.Fatalf("%s child not found", tool)
				}
				for _, enc := range []string{f.password, percentEncode(f.password), url.QueryEscape(f.password), url.PathEscape(f.password), "s3cr3t", "cr#t"} {
					if strings.Contains(cmdline, enc) {
						t.Errorf("%s command line holds the password (%q): %s", tool, enc, cmdline)
					}
				}
			}
			for _, format := range []string{"custom", "plain"} {
				w := &cmdlineWriter{t: t}
				var buf bytes.Buffer
				if _, err := (&Dump{URL: strings.Replace(f.dsn, "DB", "app", 1), Format: format}).Produce(ctx, sc, &multiWriter{w, &buf}); err != nil {
					t.Fatal(err)
				}
				leaks("pg_dump", w.cmdline)

				tool := map[string]string{"custom": "pg_restore", "plain": "psql"}[format]
				target := fmt.Sprintf("copy%d_%s", i, format)
				in := &cmdlineReader{t: t, tool: tool, r: &buf}
				r := &Restore{URL: strings.Replace(f.dsn, "DB", target, 1), Format: format, Create: true, SingleTransaction: true}
				if _, _, err := r.Consume(ctx, sc, in); err != nil {
					t.Fatal(err)
				}
				leaks(tool, in.cmdline)
				got, err := pg.Fingerprint(ctx, c.DSN(target))
				if err != nil {
					t.Fatal(err)
				}
				assertSameFingerprint(t, got, want)
			}
		})
	}
}

// cmdlineReader records the command line of this process's child named
// tool when the child first reads its input.
type cmdlineReader struct {
	t       *testing.T
	tool    string
	r       *bytes.Buffer
	cmdline string
}

func (c *cmdlineReader) Read(p []byte) (int, error) {
	if c.cmdline == "" {
		for _, pid := range pgtest.ChildPIDs(c.t, c.tool) {
			b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			c.cmdline = strings.ReplaceAll(string(b), "\x00", " ")
		}
	}
	return c.r.Read(p)
}

type multiWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (m *multiWriter) Write(p []byte) (int, error) {
	if _, err := m.a.Write(p); err != nil {
		return 0, err
	}
	return m.b.Write(p)
}

// percentEncode encodes every byte but RFC 3986's unreserved characters, as
// libpq decodes URL parts (it takes no + for a space).
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
