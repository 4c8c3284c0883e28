package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
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
			// Stopped as soon as it is seen, pg_dump cannot run to its end
			// before the test gets to kill it, however loaded the machine.
			pid := childPgDump(t)
			if pid != 0 && stopWhen(t, pid, func() bool { return pgtest.BytesWritten(pid) > 1<<20 }) {
				written := pgtest.BytesWritten(pid)
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

// childPgDump returns the pid of a pg_dump that is a child of this process,
// 0 when there is none.
func childPgDump(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		testenv.SkipUnlessCI(t, "no /proc to find pg_dump in: %v", err)
	}
	if pids := pgtest.ChildPIDs(t, "pg_dump"); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// stopWhen stops process pid (SIGSTOP), then lets it run a millisecond at
// a time until reached reports true, and leaves it stopped: a stopped
// process cannot run ahead of the test however loaded the machine is, so
// what the test does next (a kill) lands mid-stream. It returns false when
// the process ended first.
func stopWhen(t *testing.T, pid int, reached func() bool) bool {
	t.Helper()
	// The deadline only bounds a broken run; nothing is timed.
	deadline := time.Now().Add(2 * time.Minute)
	for testenv.Alive(pid) {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return false
		}
		if reached() {
			return true
		}
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			return false
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not get there in 2 minutes", pid)
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// testLeftoversAfterSIGKILL kills a real sluice process (the CLI, run as
// its own program) with SIGKILL while plans/backup.yaml streams a dump into
// ./backups: nothing can clean up, so the pending file
// .NAME.sluice-tmp-RANDOM stays. `backups list` (table and JSON) must show
// it, `prune --incomplete --confirm` must keep it while it is younger than
// the cutoff (it may be a backup being written) and remove it with a 0s
// cutoff.
func testLeftoversAfterSIGKILL(t *testing.T, c *pg.Cluster) {
	db := pgtest.NewDB(t, c)
	if err := c.Exec(context.Background(), db, `CREATE TABLE big AS
		SELECT i, repeat(md5(i::text), 10) AS t FROM generate_series(1, 120000) i`); err != nil {
		t.Fatal(err)
	}
	// testscript.Main (TestMain) puts the sluice program on PATH.
	bin, err := exec.LookPath("sluice")
	if err != nil {
		t.Fatalf("the sluice program is not on PATH: %v", err)
	}
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")

	cmd := exec.Command(bin, "run", repoFile(t, "plans/backup.yaml"), "--param", "db="+c.DSN(db), "--state-dir", ".sluice")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var tmp string
	// The deadline only bounds a broken run; nothing is timed.
	deadline := time.Now().Add(2 * time.Minute)
	for tmp == "" && time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("sluice ended (%v) before the test could kill it mid-stream: make the table bigger\n%s", err, stderr.String())
		default:
		}
		for _, f := range filesUnder(t, "backups") {
			if strings.Contains(f, ".sluice-tmp-") {
				tmp = f
			}
		}
		time.Sleep(time.Millisecond)
	}
	if tmp == "" {
		t.Fatalf("no pending file appeared under backups/ (files: %v)\n%s", filesUnder(t, "backups"), stderr.String())
	}
	// Stopped as soon as its pending file is seen, sluice cannot finish the
	// upload before the test gets to kill it, however loaded the machine.
	grown := func() bool {
		st, err := os.Stat(filepath.Join("backups", tmp))
		return err == nil && st.Size() >= 64<<10
	}
	if !stopWhen(t, cmd.Process.Pid, grown) {
		t.Fatalf("sluice ended before its pending file %s grew to 64 KiB: make the table bigger\n%s", tmp, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("sluice exit %v, want killed", err)
	}
	if got := filesUnder(t, "backups"); !slices.Equal(got, []string{tmp}) {
		t.Fatalf("after SIGKILL backups/ holds %v, want only the pending file %s", got, tmp)
	}
	t.Logf("left by SIGKILL: %s", tmp)
	base, _, _ := strings.Cut(strings.TrimPrefix(path.Base(tmp), "."), ".sluice-tmp-")
	object := path.Join(path.Dir(tmp), base)

	r := mustSluice(t, "backups", "list", "backups", "--key-dir", "keys/backup")
	if !strings.Contains(r.stdout, tmp) || !strings.Contains(r.stdout, object) {
		t.Errorf("backups list does not show the pending file %s of %s:\n%s", tmp, object, r.stdout)
	}
	var list struct {
		Uploads []struct{ Name, ID string } `json:"uploads"`
	}
	if err := json.Unmarshal([]byte(mustSluice(t, "backups", "list", "backups", "--key-dir", "keys/backup", "--json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Uploads) != 1 || list.Uploads[0].Name != object || list.Uploads[0].ID != tmp {
		t.Errorf("backups list --json uploads = %+v, want %s (pending file %s)", list.Uploads, object, tmp)
	}

	// The default cutoff (24h) spares it: it may be a backup being written.
	r = mustSluice(t, "backups", "prune", "backups", "--incomplete", "--confirm")
	if !strings.Contains(r.stdout, "keep") || !strings.Contains(r.stdout, object) {
		t.Errorf("prune --incomplete does not show the fresh pending file as kept:\n%s", r.stdout)
	}
	if got := filesUnder(t, "backups"); !slices.Equal(got, []string{tmp}) {
		t.Fatalf("prune --incomplete with the default cutoff removed a fresh pending file: left %v", got)
	}

	r = mustSluice(t, "backups", "prune", "backups", "--incomplete", "--incomplete-older-than", "0s", "--confirm")
	if got := filesUnder(t, "backups"); len(got) != 0 {
		t.Fatalf("prune --incomplete --incomplete-older-than 0s --confirm left %v\n%s", got, r.stdout)
	}
	t.Logf("prune:\n%s", r.stdout)
}
