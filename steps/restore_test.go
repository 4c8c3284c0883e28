package steps

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
)

func TestRestoreValidate(t *testing.T) {
	tests := []struct {
		r    Restore
		want string
	}{
		{Restore{}, "url or target"},
		{Restore{URL: "postgres://x/db", Target: "ephemeral"}, "give only one"},
		{Restore{Target: "ephemeral", Format: "plain", Clean: true}, "clean: only works with format custom"},
		{Restore{Target: "ephemeral", Args: []string{"-d", "x"}}, `args: "-d" is set by sluice`},
		{Restore{Target: "ephemeral", Verify: map[string]string{"n": ""}}, `verify: entry "n"`},
		{Restore{Target: "ephemeral", SkipChecks: true, Verify: map[string]string{"n": "SELECT 1"}}, "verify: cannot run with skip_checks: true"},
		{Restore{URL: "postgres://x/db", Superuser: true}, "superuser: only for target: ephemeral"},
		{Restore{URL: "postgres://x/db", Format: "auto", Args: []string{"--no-owner"}}, ""},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tt.r, err, tt.want)
		}
	}
}

func testRestore(t *testing.T, c *pg.Cluster, src string) {
	ctx := context.Background()
	sc := &runner.StepContext{ID: "restore", Type: "restore", Logger: hclog.NewNullLogger()}
	want, err := pg.Fingerprint(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	dumps := map[string][]byte{}
	for _, f := range []string{"custom", "plain"} {
		var buf bytes.Buffer
		if _, err := (&Dump{URL: src, Format: f}).Produce(ctx, sc, &buf); err != nil {
			t.Fatal(err)
		}
		dumps[f] = buf.Bytes()
	}

	for _, tt := range []struct{ name, dump, format string }{
		{"custom", "custom", "custom"},
		{"plain auto-detected", "plain", "auto"},
		{"custom auto-detected", "custom", "auto"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := c.DSN(strings.ReplaceAll(tt.name, " ", "_")) // created by the step
			r := &Restore{URL: target, Format: tt.format, Create: true, SingleTransaction: true}
			out, p, err := r.Consume(ctx, sc, bytes.NewReader(dumps[tt.dump]))
			if err != nil {
				t.Fatal(err)
			}
			if p != runner.NothingPending || out["tables"] != int64(4) || out["format"] != tt.dump {
				t.Errorf("outputs %v, pending %v", out, p)
			}
			got, err := pg.Fingerprint(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			assertSameFingerprint(t, got, want)
		})
	}

	t.Run("ephemeral with verify", func(t *testing.T) {
		r := &Restore{Target: "ephemeral", Database: "drill", Format: "custom", SingleTransaction: true, Verify: map[string]string{
			"customers": "SELECT count(*) FROM shop.customers",
			"revenue":   "SELECT sum(amount) FROM shop.orders",
			"first":     "SELECT min(created_at) FROM shop.customers",
			"superuser": "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
			"owner":     "SELECT tableowner FROM pg_tables WHERE tablename = 'customers'",
		}}
		out, _, err := r.Consume(ctx, sc, bytes.NewReader(dumps["custom"]))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := out["verify"].(map[string]any)
		if out["database"] != "drill" || out["tables"] != int64(4) || v["customers"] != int64(3000) ||
			v["first"] != "2024-01-01T00:17:03Z" || v["superuser"] != false || v["owner"] != restoreRole {
			t.Errorf("outputs %v", out)
		}
		if _, ok := v["revenue"].(float64); !ok {
			t.Errorf("verify.revenue = %#v, want a number", v["revenue"])
		}
	})

	t.Run("ephemeral as superuser", func(t *testing.T) {
		r := &Restore{Target: "ephemeral", Database: "drill", Format: "custom", Superuser: true, SingleTransaction: true,
			Verify: map[string]string{"superuser": "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"}}
		out, _, err := r.Consume(ctx, sc, bytes.NewReader(dumps["custom"]))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := out["verify"].(map[string]any); v["superuser"] != true {
			t.Errorf("outputs %v", out)
		}
	})

	t.Run("verify query returning rows", func(t *testing.T) {
		r := &Restore{URL: c.DSN("custom"), Format: "custom", Clean: true, SingleTransaction: true,
			Verify: map[string]string{"ids": "SELECT id FROM shop.customers LIMIT 2"}}
		_, _, err := r.Consume(ctx, sc, bytes.NewReader(dumps["custom"]))
		if err == nil || !strings.Contains(err.Error(), `verify "ids": the query returned 2 rows`) {
			t.Fatalf("Consume = %v", err)
		}
	})

	for _, f := range []string{"custom", "plain"} {
		t.Run("truncated "+f, func(t *testing.T) {
			db := "trunc_" + f
			d := dumps[f]
			r := &Restore{URL: c.DSN(db), Format: f, Create: true, SingleTransaction: true}
			_, _, err := r.Consume(ctx, sc, bytes.NewReader(d[:len(d)*2/3]))
			if err == nil {
				t.Fatal("restore of a truncated stream succeeded")
			}
			t.Logf("error: %v", err)
			assertNoDatabase(t, c, db) // create: true made it, the failure dropped it
		})
	}

	t.Run("upstream fails", func(t *testing.T) {
		boom := errors.New("decrypt: no identity matched")
		in := io.MultiReader(bytes.NewReader(dumps["custom"][:100<<10]), errReader{boom})
		_, _, err := (&Restore{URL: c.DSN("upstream"), Format: "custom", Create: true, SingleTransaction: true}).Consume(ctx, sc, in)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "upstream step failed") {
			t.Fatalf("Consume = %v, want the upstream error", err)
		}
		assertNoDatabase(t, c, "upstream")
		// Into a database that existed, a failed restore changes nothing.
		if err := c.CreateDB(ctx, "upstream"); err != nil {
			t.Fatal(err)
		}
		in = io.MultiReader(bytes.NewReader(dumps["custom"][:100<<10]), errReader{boom})
		if _, _, err := (&Restore{URL: c.DSN("upstream"), Format: "custom", Create: true, SingleTransaction: true}).Consume(ctx, sc, in); !errors.Is(err, boom) {
			t.Fatalf("Consume = %v, want the upstream error", err)
		}
		assertNoTables(t, c, "upstream")
	})

	t.Run("wrong input", func(t *testing.T) {
		_, _, err := (&Restore{URL: c.DSN("custom"), Format: "custom"}).Consume(ctx, sc, strings.NewReader("age-encryption.org/v1\n..."))
		if err == nil || !strings.Contains(err.Error(), "no PGDMP header") {
			t.Fatalf("Consume = %v", err)
		}
		_, _, err = (&Restore{URL: c.DSN("custom"), Format: "custom"}).Consume(ctx, sc, strings.NewReader(""))
		if err == nil || !strings.Contains(err.Error(), "input stream is empty") {
			t.Fatalf("Consume = %v", err)
		}
	})
}

func assertNoTables(t *testing.T, c *pg.Cluster, db string) {
	t.Helper()
	conn, err := pg.Connect(context.Background(), c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), pg.UserTablesQuery).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a failed restore left %d tables in %s", n, db)
	}
}

func assertNoDatabase(t *testing.T, c *pg.Cluster, db string) {
	t.Helper()
	conn, err := pg.Connect(context.Background(), c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s, created for a restore that failed, is still there", db)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
