package steps

import (
	"context"
	"io"
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

// TestIntegrationThrowawayClustersRefuseOtherLocalUsers plays the security
// review's attack: while a throwaway cluster runs (the postgres step's, and
// restore's target: ephemeral), the local user nobody connects as the
// superuser postgres over TCP and over the socket and runs COPY ... TO
// PROGRAM. Every attempt must fail to authenticate, nobody must not read the
// cluster's password file, and the step's own consumers must still connect.
func TestIntegrationThrowawayClustersRefuseOtherLocalUsers(t *testing.T) {
	nobody := pgtest.OtherUser(t)
	psql, err := pg.FindTool("psql", "postgresql-client", pg.Version{})
	if err != nil {
		t.Fatal(err)
	}
	// A folder the server's user may write to: the attack's proof of work.
	drop, err := os.MkdirTemp("", "sluice-attack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(drop) })
	if err := os.Chmod(drop, 0o777); err != nil {
		t.Fatal(err)
	}
	pwned := filepath.Join(drop, "pwned")

	attack := func(t *testing.T, srv pgtest.Running) {
		t.Helper()
		sql := "COPY (SELECT 1) TO PROGRAM 'id > " + pwned + "'"
		for _, host := range []string{"127.0.0.1", srv.SocketDir} {
			conn := "host=" + host + " port=" + strconv.Itoa(srv.Port) + " user=postgres dbname=postgres"
			out, err := pgtest.RunAs(nobody, psql.Path, "-X", "-w", "-c", sql, conn)
			if err == nil {
				t.Errorf("user nobody connected as postgres via %s and ran COPY TO PROGRAM:\n%s", host, out)
			} else {
				t.Logf("nobody via %s: %v: %s", host, err, strings.TrimSpace(out))
			}
		}
		// The cluster's folder holds the password file.
		base := filepath.Dir(srv.DataDir)
		if out, err := pgtest.RunAs(nobody, "/bin/ls", "-la", base); err == nil {
			t.Errorf("user nobody can list the cluster's folder %s:\n%s", base, out)
		}
		if _, err := os.Stat(pwned); err == nil {
			b, _ := os.ReadFile(pwned)
			t.Fatalf("COPY TO PROGRAM ran for user nobody: %s", b)
		}
	}
	findServers := func(t *testing.T) []pgtest.Running {
		t.Helper()
		srvs := pgtest.RunningServers(t)
		if len(srvs) == 0 {
			t.Fatal("no running throwaway cluster found among this process's children")
		}
		return srvs
	}
	ctx := context.Background()

	t.Run("postgres step", func(t *testing.T) {
		var atEnd []func() error
		sc := &runner.StepContext{ID: "db", Type: "postgres", Logger: hclog.NewNullLogger(),
			AtEnd: func(fn func() error) { atEnd = append(atEnd, fn) }}
		defer func() {
			for _, fn := range atEnd {
				if err := fn(); err != nil {
					t.Error(err)
				}
			}
		}()
		out, err := (&Postgres{Database: "app", Seed: "sample", TLS: true}).Run(ctx, sc)
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range findServers(t) {
			attack(t, srv)
		}
		// The steps that are handed the DSNs still get in.
		for _, k := range []string{"dsn", "dsn_plain", "dsn_tls"} {
			if _, err := pg.Preflight(ctx, out[k].(string)); err != nil {
				t.Errorf("output %s: %v", k, err)
			}
		}
	})

	t.Run("restore target ephemeral", func(t *testing.T) {
		dump := &attackingReader{r: strings.NewReader("CREATE TABLE t (i int);\nINSERT INTO t VALUES (1);\n--\n-- PostgreSQL database dump complete\n--\n"), attack: func() {
			for _, srv := range findServers(t) {
				attack(t, srv)
			}
		}}
		out, _, err := (&Restore{Target: "ephemeral", Database: "restore", Format: "plain", SingleTransaction: true}).
			Consume(ctx, &runner.StepContext{ID: "restore", Type: "restore", Logger: hclog.NewNullLogger()}, dump)
		if err != nil {
			t.Fatal(err)
		}
		if !dump.attacked {
			t.Fatal("the restore never read its input")
		}
		if out["rows"] != int64(1) {
			t.Errorf("restored rows = %v, want 1", out["rows"])
		}
	})
}

// attackingReader runs attack once, when the restore first reads its
// input: the ephemeral cluster is running then.
type attackingReader struct {
	r        io.Reader
	attack   func()
	attacked bool
}

func (a *attackingReader) Read(p []byte) (int, error) {
	if !a.attacked {
		a.attacked = true
		a.attack()
	}
	return a.r.Read(p)
}
