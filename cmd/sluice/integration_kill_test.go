package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// testPgDumpKilled kills the real pg_dump (found through /proc as a child
// of this process) once it has written 1 MiB of a ~40 MiB dump, and proves
// the run fails with pg_dump named and leaves no object, sidecar, manifest
// or pending file behind.
func testPgDumpKilled(t *testing.T, c *pg.Cluster) {
	db := pgtest.NewDB(t, c)
	// md5 text compresses about 2:1, so the stream keeps flowing through
	// compression and encryption while pg_dump still has most to write.
	if err := c.Exec(context.Background(), db, `CREATE TABLE big AS
		SELECT i, repeat(md5(i::text), 10) AS t FROM generate_series(1, 120000) i`); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")

	done := make(chan cliResult, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := sluiceMain([]string{"run", repoFile(t, "plans/backup.yaml"), "--param", "db=" + c.DSN(db), "--state-dir", ".sluice"}, &stdout, &stderr)
		done <- cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()

	var killed int
	var r cliResult
	// The deadline only bounds a broken run; nothing is timed.
	deadline := time.Now().Add(2 * time.Minute)
wait:
	for time.Now().Before(deadline) {
		select {
		case r = <-done:
			break wait
		default:
		}
		if killed == 0 {
			if pid, written := childPgDump(t); pid != 0 && written > 1<<20 {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("killing pg_dump %d: %v", pid, err)
				}
				killed = pid
				t.Logf("killed pg_dump (pid %d) after it wrote %d bytes", pid, written)
			}
		}
		time.Sleep(time.Millisecond)
	}
	if killed == 0 {
		t.Fatalf("pg_dump ended before the test could kill it (exit %d): make the table bigger\n%s", r.code, r.stderr)
	}
	if r.code != exitStepFailed {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitStepFailed, r.stderr)
	}
	if !strings.Contains(r.stderr, "pg_dump was killed") || !strings.Contains(r.stderr, "the dump is incomplete") {
		t.Errorf("the error does not say pg_dump was killed:\n%s", r.stderr)
	}
	if got := filesUnder(t, "backups"); len(got) > 0 {
		t.Errorf("files left in the destination: %v", got)
	}
	t.Logf("stderr:\n%s", r.stderr)
}

// childPgDump returns the pid of a pg_dump that is a child of this process
// and the bytes it has written so far (0, 0 when there is none).
func childPgDump(t *testing.T) (pid int, written int64) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("skipping: no /proc to find pg_dump in: %v", err)
	}
	if pids := pgtest.ChildPIDs(t, "pg_dump"); len(pids) > 0 {
		return pids[0], pgtest.BytesWritten(pids[0])
	}
	return 0, 0
}
