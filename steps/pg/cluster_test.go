package pg_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

func TestIntegrationClusterLifecycle(t *testing.T) {
	var logged strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: &logged, Level: hclog.Info})
	start := time.Now()
	c := pgtest.Start(t, pg.Options{Logger: logger, Conf: []string{"work_mem = '7MB'"}})
	t.Logf("cluster up in %s on port %d", time.Since(start).Round(time.Millisecond), c.Port)
	if os.Geteuid() == 0 && !strings.Contains(logged.String(), "system user postgres") {
		t.Errorf("running as root but no log line about the postgres user: %q", logged.String())
	}
	ctx := context.Background()
	if err := c.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	info, err := pg.Preflight(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Database != "app" || info.ServerVersionNum < 100000 || info.SizeBytes <= 0 || !strings.HasPrefix(info.ServerVersion, c.Version.MajorString()) {
		t.Errorf("Preflight = %+v, cluster version %s", info, c.Version.Text)
	}
	conn, err := pg.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	var workMem string
	if err := conn.QueryRow(ctx, "SHOW work_mem").Scan(&workMem); err != nil || workMem != "7MB" {
		t.Errorf("work_mem = %q, %v; want the extra conf line's 7MB", workMem, err)
	}
	conn.Close(ctx)

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.DataDir); !os.IsNotExist(err) {
		t.Errorf("data directory %s still exists after Stop: %v", c.DataDir, err)
	}
	if _, err := pg.Preflight(ctx, c.DSN("app")); err == nil {
		t.Error("server still answers after Stop")
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestIntegrationPreflightErrors(t *testing.T) {
	const password = "correct-horse-battery"
	c := pgtest.Start(t, pg.Options{Password: password})
	ctx := context.Background()
	if _, err := pg.Preflight(ctx, c.DSN("postgres")); err != nil {
		t.Fatalf("right password: %v", err)
	}
	closed := c.DSN("postgres")
	closed = strings.Replace(closed, ":"+itoa(c.Port), ":1", 1) // port 1: nothing listens
	wrongPw := strings.Replace(c.DSN("postgres"), password, "wrong-password", 1)
	tests := []struct {
		name, dsn string
		kind      pg.ErrorKind
		want      string
	}{
		{"unreachable", closed, pg.KindUnreachable, "cannot connect to 127.0.0.1:1: connection refused — is the server running?"},
		{"bad password", wrongPw, pg.KindAuth, `authentication failed for user "postgres"`},
		{"missing db", c.DSN("nosuchdb"), pg.KindNoDatabase, `database "nosuchdb" does not exist`},
		{"tls refused", c.DSN("postgres") + "?sslmode=require", pg.KindTLS, "does not offer TLS"},
		{"bad dsn", "host=x password='unterminated", pg.KindBadDSN, "invalid connection string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pg.Preflight(ctx, tt.dsn)
			var ce *pg.ConnError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConnError", err, err)
			}
			if ce.Kind != tt.kind || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got kind %s, %q; want kind %s containing %q", ce.Kind, err, tt.kind, tt.want)
			}
			for _, secret := range []string{password, "wrong-password", "unterminated"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a password: %q", err)
				}
			}
		})
	}
}

func TestIntegrationFingerprint(t *testing.T) {
	c := pgtest.Start(t, pg.Options{})
	ctx := context.Background()
	for _, db := range []string{"a", "b"} {
		if err := c.CreateDB(ctx, db); err != nil {
			t.Fatal(err)
		}
		pgtest.Seed(t, c, db)
	}
	fa, err := pg.Fingerprint(ctx, c.DSN("a"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := pg.Fingerprint(ctx, c.DSN("b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fa) != 4 || fa["shop.customers"].Rows != 3000 || fa["shop.orders"].Rows != 5000 {
		t.Errorf("fingerprint of seeded database = %+v", fa)
	}
	for k, v := range fa {
		if fb[k] != v {
			t.Errorf("table %s: %+v vs %+v in an identically seeded database", k, v, fb[k])
		}
	}
	if err := c.Exec(ctx, "b", "UPDATE shop.customers SET balance = balance + 0.01 WHERE id = 42"); err != nil {
		t.Fatal(err)
	}
	fb, err = pg.Fingerprint(ctx, c.DSN("b"))
	if err != nil {
		t.Fatal(err)
	}
	if fb["shop.customers"] == fa["shop.customers"] {
		t.Error("fingerprint did not change after one value changed")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
