package steps

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

func TestDumpValidate(t *testing.T) {
	tests := []struct {
		d    Dump
		want string
	}{
		{Dump{}, "url: a connection string is required"},
		{Dump{URL: "postgres://x/db", Compress: 11}, "compress: 11 is not a level"},
		{Dump{URL: "postgres://x/db", Args: []string{"--file=/tmp/x"}}, `args: "--file=/tmp/x" is set by sluice`},
		{Dump{URL: "postgres://x/db", Args: []string{"-Fp"}}, `args: "-Fp" is set by sluice`},
		// pg_dump takes an unambiguous prefix of a long option: --fi is
		// --file (the dump in clear on disk), --hos --host (the password
		// sent elsewhere).
		{Dump{URL: "postgres://x/db", Args: []string{"--fi=/tmp/x"}}, `args: "--fi=/tmp/x" is set by sluice`},
		{Dump{URL: "postgres://x/db", Args: []string{"--hos=evil"}}, `args: "--hos=evil" is set by sluice`},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, Args: []string{"--sec=data"}}, `remove "--sec=data"`},
		{Dump{URL: "postgres://x/db", Args: []string{"--no-owner", "--jobs=1"}}, ""},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 4, Args: []string{"--no-owner"}}, ""},
		{Dump{URL: "postgres://x/db", Jobs: 65}, "jobs: 65 is not from 1 to 64"},
		{Dump{URL: "postgres://x/db", Jobs: 2, Format: "plain"}, "jobs: a dump in parts is restored with pg_restore: set format: custom"},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, ExcludeTables: []string{"logs"}}, "jobs: a dump in parts dumps the whole database"},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, Args: []string{"-tlogs"}}, `args: with jobs above 1 sluice chooses what each pg_dump dumps: remove "-tlogs"`},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, Args: []string{"--section=data"}}, `remove "--section=data"`},
		{Dump{URL: "postgres://x/db", Jobs: 1, Args: []string{"--section=data"}}, ""},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, Args: []string{"--filter=tables.txt"}}, `remove "--filter=tables.txt"`},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, Args: []string{"-eplpgsql"}}, `remove "-eplpgsql"`},
		{Dump{URL: "postgres://x/db", Format: "custom", Jobs: 2, Args: []string{"--exclude-extension", "postgis"}}, `remove "--exclude-extension"`},
	}
	for _, tt := range tests {
		err := tt.d.Validate()
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tt.d, err, tt.want)
		}
	}
}

// sourceDB starts a cluster with a seeded database "app".
func sourceDB(t *testing.T) (*pg.Cluster, string) {
	t.Helper()
	c := pgtest.Start(t, pg.Options{Password: "dump-test-pw"})
	if err := c.CreateDB(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	pgtest.Seed(t, c, "app")
	return c, c.DSN("app")
}

// TestIntegrationPostgresSteps runs the dump and restore tests against one
// seeded cluster: starting clusters is the slow part.
func TestIntegrationPostgresSteps(t *testing.T) {
	c, src := sourceDB(t)
	t.Run("dump", func(t *testing.T) { testDump(t, c, src) })
	t.Run("restore", func(t *testing.T) { testRestore(t, c, src) })
	t.Run("plan", func(t *testing.T) { testDumpRestorePlan(t, src, 1) })
	t.Run("plan in parts", func(t *testing.T) { testDumpRestorePlan(t, src, 3) })
}

func testDump(t *testing.T, c *pg.Cluster, src string) {
	ctx := context.Background()
	want, err := pg.Fingerprint(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	sc := &runner.StepContext{ID: "dump", Type: "dump", Logger: hclog.NewNullLogger()}

	for _, format := range []string{"custom", "plain"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			out, err := (&Dump{URL: src, Format: format}).Produce(ctx, sc, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if out["bytes"] != int64(buf.Len()) || out["database"] != "app" || out["format"] != format ||
				out["server_version"] != c.Version.Text || out["size_bytes"].(int64) <= 0 {
				t.Errorf("outputs %v (buffer %d bytes, cluster %s)", out, buf.Len(), c.Version.Text)
			}
			file := filepath.Join(t.TempDir(), "dump."+format)
			if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			target := format + "_copy"
			if err := c.CreateDB(ctx, target); err != nil {
				t.Fatal(err)
			}
			// Restore with the standard tools, not with sluice.
			var cmd *exec.Cmd
			if format == "custom" {
				cmd = exec.Command("pg_restore", "--exit-on-error", "--dbname="+c.DSN(target), file)
			} else {
				cmd = exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname="+c.DSN(target), "-f", file)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", cmd.Path, err, out)
			}
			got, err := pg.Fingerprint(ctx, c.DSN(target))
			if err != nil {
				t.Fatal(err)
			}
			assertSameFingerprint(t, got, want)
		})
	}

	t.Run("tables filter", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := (&Dump{URL: src, Format: "plain", Tables: []string{"shop.orders"}}).Produce(ctx, sc, &buf); err != nil {
			t.Fatal(err)
		}
		if s := buf.String(); !strings.Contains(s, "CREATE TABLE shop.orders") || strings.Contains(s, "CREATE TABLE shop.customers") {
			t.Errorf("tables: [shop.orders] dumped something else (%d bytes)", buf.Len())
		}
	})

	t.Run("pg_dump killed mid-stream", func(t *testing.T) {
		w := &killingWriter{t: t}
		_, err := (&Dump{URL: src, Format: "plain"}).Produce(ctx, sc, w)
		if !w.killed {
			t.Fatal("pg_dump child not found to kill")
		}
		if err == nil || !strings.Contains(err.Error(), "pg_dump was killed") || !strings.Contains(err.Error(), "incomplete") {
			t.Fatalf("Produce after kill = %v, want an error saying pg_dump was killed", err)
		}
		if w.n == 0 {
			t.Error("nothing streamed before the kill")
		}
		t.Logf("error: %v", err)
	})

	t.Run("password not on the command line", func(t *testing.T) {
		w := &cmdlineWriter{t: t}
		if _, err := (&Dump{URL: src, Format: "custom"}).Produce(ctx, sc, w); err != nil {
			t.Fatal(err)
		}
		if w.cmdline == "" {
			t.Fatal("pg_dump child not found")
		}
		if strings.Contains(w.cmdline, "dump-test-pw") || !strings.Contains(w.cmdline, "--dbname=postgres://postgres@127.0.0.1") {
			t.Errorf("pg_dump command line %q: want the DSN without its password", w.cmdline)
		}
	})

	t.Run("downstream fails", func(t *testing.T) {
		boom := errors.New("compress: disk on fire")
		_, err := (&Dump{URL: src, Format: "custom"}).Produce(ctx, sc, failingWriter{boom})
		if !errors.Is(err, boom) {
			t.Fatalf("Produce = %v, want it to wrap the writer's error", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		_, err := (&Dump{URL: src, Format: "custom"}).Produce(cctx, sc, cancelWriter{cancel})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Produce = %v, want context.Canceled", err)
		}
	})

	t.Run("pre-flight errors", func(t *testing.T) {
		bad := strings.Replace(src, "dump-test-pw", "not-the-pw", 1)
		_, err := (&Dump{URL: bad, Format: "custom"}).Produce(ctx, sc, &bytes.Buffer{})
		var ce *pg.ConnError
		if !errors.As(err, &ce) || ce.Kind != pg.KindAuth || strings.Contains(err.Error(), "not-the-pw") {
			t.Fatalf("Produce with a wrong password = %v", err)
		}
		_, err = (&Dump{URL: c.DSN("nosuch"), Format: "custom"}).Produce(ctx, sc, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), `pre-flight: database "nosuch" does not exist`) {
			t.Fatalf("Produce of a missing database = %v", err)
		}
	})
}

func assertSameFingerprint(t *testing.T, got, want map[string]pg.TableSum) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("restored %d tables, source has %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("table %s: restored %+v, source %+v", k, got[k], v)
		}
	}
}

// killingWriter kills this process's pg_dump child at the first write, as
// an OOM killer or an operator would.
type killingWriter struct {
	t      *testing.T
	n      int
	killed bool
}

func (w *killingWriter) Write(p []byte) (int, error) {
	if !w.killed {
		for _, pid := range pgtest.ChildPIDs(w.t, "pg_dump") {
			if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
				w.killed = true
			}
		}
	}
	w.n += len(p)
	return len(p), nil
}

// cmdlineWriter records the command line of this process's pg_dump child,
// as ps shows it to every user of the machine.
type cmdlineWriter struct {
	t       *testing.T
	cmdline string
}

func (w *cmdlineWriter) Write(p []byte) (int, error) {
	if w.cmdline == "" {
		for _, pid := range pgtest.ChildPIDs(w.t, "pg_dump") {
			b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			w.cmdline = strings.ReplaceAll(string(b), "\x00", " ")
		}
	}
	return len(p), nil
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

type cancelWriter struct{ cancel context.CancelFunc }

func (c cancelWriter) Write(p []byte) (int, error) { c.cancel(); return len(p), nil }
