package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// TestIntegrationRestoreCLI tries sluice restore as a new user would, into
// targets that are not fresh, that do not exist, and with an interrupt.
func TestIntegrationRestoreCLI(t *testing.T) {
	requireTools(t, "age", "zstd")
	requirePGTool(t, "pg_dump")
	requirePGTool(t, "pg_restore")
	c := pgtest.Cluster(t)
	t.Run("NonEmptyTarget", func(t *testing.T) { testRestoreNonEmpty(t, c) })
	t.Run("MissingDatabase", func(t *testing.T) { testRestoreMissingDB(t, c) })
	t.Run("Interrupted", func(t *testing.T) { testRestoreInterrupted(t, c) })
}

// testRestoreNonEmpty restores a backup into a database that already holds
// it: the error is the server's ("relation ... already exists"), not pieces
// of the failed statement; with --clean the restore replaces the objects.
func testRestoreNonEmpty(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	man := backupWithPlan(t, c.DSN(src))
	dst := freshName(t, c)
	mustSluice(t, "restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")

	r := sluiceCLI(t, "restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--state-dir", ".sluice")
	if r.code != exitStepFailed || !strings.Contains(r.stderr, "pg_restore: error: could not execute query: ERROR: ") || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("restore into a non-empty database: exit %d, want %d and the server's error\n%s", r.code, exitStepFailed, r.stderr)
	}
	if strings.Contains(r.stderr, "NOT NULL") || strings.Contains(r.stderr, "Command was") {
		t.Errorf("the error shows the failed statement instead of the server's report:\n%s", r.stderr)
	}
	sameContent(t, c, src, dst) // the failed restore changed nothing

	mustSluice(t, "restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--clean", "--state-dir", ".sluice")
	sameContent(t, c, src, dst)
}

// testRestoreMissingDB: a target database that does not exist is named, and
// the error says --create makes it.
func testRestoreMissingDB(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	man := backupWithPlan(t, c.DSN(src))
	dst := freshName(t, c)
	r := sluiceCLI(t, "restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--state-dir", ".sluice")
	if r.code != exitStepFailed || !strings.Contains(r.stderr, "database \""+dst+"\" does not exist") || !strings.Contains(r.stderr, "--create") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}

// testRestoreInterrupted sends SIGINT (as Ctrl-C does) while pg_restore is
// loading: the restore is one transaction, so the target is left as it
// was, and the messages say so. With --create the database the restore made
// is dropped; without, an existing empty database stays empty. A CHECK
// constraint that sleeps 1 ms per row keeps the load going for seconds.
func testRestoreInterrupted(t *testing.T, c *pg.Cluster) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		testenv.SkipUnlessCI(t, "no /proc to watch pg_restore in: %v", err)
	}
	src := pgtest.NewDB(t, c)
	if err := c.Exec(context.Background(), src, `
		CREATE FUNCTION public.slow(i int) RETURNS boolean LANGUAGE sql AS 'SELECT true';
		CREATE TABLE public.big (i int CHECK (public.slow(i)), t text);
		INSERT INTO public.big SELECT i, md5(i::text) FROM generate_series(1, 5000) i;
		CREATE OR REPLACE FUNCTION public.slow(i int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.001) IS NOT NULL';`); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	man := backupWithPlan(t, c.DSN(src))

	for _, create := range []bool{true, false} {
		dst := freshName(t, c)
		args := []string{"restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--state-dir", ".sluice"}
		if create {
			args = append(args, "--create")
		} else if err := c.CreateDB(context.Background(), dst); err != nil {
			t.Fatal(err)
		}
		r := interruptWhileLoading(t, c, dst, args)
		if r.code != exitInterrupted || !strings.Contains(r.stderr, "nothing was restored: its single transaction was rolled back") {
			t.Fatalf("create=%v: exit %d, want %d saying nothing was restored\n%s", create, r.code, exitInterrupted, r.stderr)
		}
		if !strings.Contains(r.stdout, "restore interrupted") {
			t.Errorf("stdout: %s", r.stdout)
		}
		exists := databaseExists(t, c, dst)
		switch {
		case create && exists:
			t.Errorf("the database --create made is still there after the interrupt")
		case !create && !exists:
			t.Errorf("the existing target database was dropped")
		case !create:
			if n := userTables(t, c, dst); n != 0 {
				t.Errorf("the interrupted restore left %d tables", n)
			}
		}
	}
}

// interruptWhileLoading runs the CLI in this process and sends this process
// SIGINT once the server runs a COPY into database db. The CLI's handler
// holds SIGINT from the moment the restore starts, so the test process does
// not see it.
func interruptWhileLoading(t *testing.T, c *pg.Cluster, db string, args []string) cliResult {
	t.Helper()
	done := make(chan cliResult, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := sluiceMain(args, &stdout, &stderr)
		done <- cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	sent := false
	// The deadline only bounds a broken run; nothing is timed.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case r := <-done:
			if !sent {
				t.Fatalf("the restore ended before pg_restore could be interrupted (exit %d): make the table bigger\n%s", r.code, r.stderr)
			}
			return r
		default:
		}
		if !sent && loading(t, c, db) {
			if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the restore did not end")
	return cliResult{}
}

// loading reports whether a COPY into database db is running.
func loading(t *testing.T, c *pg.Cluster, db string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pg.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY %'", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// databaseExists reports whether c has database db.
func databaseExists(t *testing.T, c *pg.Cluster, db string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pg.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}
