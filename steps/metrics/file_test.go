package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

func readFile(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lint(t, string(b))
	return series(t, string(b))
}

// report returns a minimal run of plan with the given status, ended at
// at(sec).
func report(plan string, ok bool, sec int) *runner.Report {
	st := runner.StatusFailed
	if ok {
		st = runner.StatusSucceeded
	}
	return &runner.Report{Plan: plan, Started: at(sec - 10), Finished: at(sec), DurationSeconds: 10, Status: st}
}

func TestWriteFileGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.prom")
	write := func(plan, target string, ok bool, sec int) {
		t.Helper()
		if err := WriteFile(path, Run(report(plan, ok, sec), RunOptions{Target: target})); err != nil {
			t.Fatal(err)
		}
	}
	write("backup", "eu", true, 100)
	write("backup", "us", false, 110)
	write("backup", "eu", false, 200)
	write("backup", "eu", false, 300)
	write("tls", "", true, 310)
	got := readFile(t, path)
	expect(t, got, map[string]float64{
		// The last success of eu survives its two failures, which count.
		`sluice_run_last_success_timestamp_seconds{plan="backup",target="eu"}`: unix(at(100)),
		`sluice_run_last_failure_timestamp_seconds{plan="backup",target="eu"}`: unix(at(300)),
		`sluice_run_consecutive_failures{plan="backup",target="eu"}`:           2,
		`sluice_run_success{plan="backup",target="eu"}`:                        0,
		// Other targets and plans are left alone.
		`sluice_run_consecutive_failures{plan="backup",target="us"}`:          1,
		`sluice_run_last_finish_timestamp_seconds{plan="backup",target="us"}`: unix(at(110)),
		`sluice_run_success{plan="tls"}`:                                      1,
	})
	write("backup", "eu", true, 400)
	expect(t, readFile(t, path), map[string]float64{
		`sluice_run_consecutive_failures{plan="backup",target="eu"}`:           0,
		`sluice_run_last_success_timestamp_seconds{plan="backup",target="eu"}`: unix(at(400)),
		`sluice_run_last_failure_timestamp_seconds{plan="backup",target="eu"}`: unix(at(300)),
		`sluice_run_consecutive_failures{plan="backup",target="us"}`:           1,
	})

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (node_exporter runs as its own user)", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d files, want only sluice.prom: %v", len(entries), entries)
	}
}

// A snapshot (a catalogue) replaces its group whole: a family it no longer
// holds disappears.
func TestWriteFileSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backups.prom")
	a := NewSet("dest", "s3://b/app")
	a.Snapshot = true
	a.set("sluice_catalog_backups", 3)
	a.set("sluice_catalog_backups_by_signature", 3, "signed")
	other := NewSet("dest", "s3://b/other")
	other.Snapshot = true
	other.set("sluice_catalog_backups", 7)
	for _, s := range []*Set{a, other} {
		if err := WriteFile(path, s); err != nil {
			t.Fatal(err)
		}
	}
	b := NewSet("dest", "s3://b/app")
	b.Snapshot = true
	b.set("sluice_catalog_backups", 4)
	if err := WriteFile(path, b); err != nil {
		t.Fatal(err)
	}
	expect(t, readFile(t, path), map[string]float64{
		`sluice_catalog_backups{dest="s3://b/app"}`:   4,
		`sluice_catalog_backups{dest="s3://b/other"}`: 7,
	}, "sluice_catalog_backups_by_signature")
}

// TestWriteFileSnapshotKeepsRunSeries: a run's backup series carries the
// destination (dest) among its labels; a catalogue snapshot of that
// destination written to the same file must not take it for its own and
// drop it (alerts on "no recent backup" would fire).
func TestWriteFileSnapshotKeepsRunSeries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.prom")
	run := NewSet("plan", "backup", "target", "")
	run.set("sluice_backup_last_success_timestamp_seconds", 1.7e9, "s3://b/app", "shop")
	if err := WriteFile(path, run); err != nil {
		t.Fatal(err)
	}
	cat := NewSet("dest", "s3://b/app")
	cat.Snapshot = true
	cat.set("sluice_catalog_backups", 3)
	if err := WriteFile(path, cat); err != nil {
		t.Fatal(err)
	}
	expect(t, readFile(t, path), map[string]float64{
		`sluice_backup_last_success_timestamp_seconds{database="shop",dest="s3://b/app",plan="backup"}`: 1.7e9,
		`sluice_catalog_backups{dest="s3://b/app"}`:                                                     3,
	})
}

// Fleet targets ending at once write one file without losing each other.
func TestWriteFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.prom")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- WriteFile(path, Run(report("backup", i%2 == 0, 100+i), RunOptions{Target: fmt.Sprintf("db%02d", i)}))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := readFile(t, path)
	for i := range 16 {
		k := fmt.Sprintf(`sluice_run_success{plan="backup",target="db%02d"}`, i)
		if _, ok := got[k]; !ok {
			t.Errorf("lost %s", k)
		}
	}
}

func TestWriteFileRefusesOtherContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.prom")
	if err := os.WriteFile(path, []byte("this is not { an exposition\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, Run(report("backup", true, 100), RunOptions{}))
	if err == nil || !strings.Contains(err.Error(), "is not in Prometheus' text format") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "this is not") {
		t.Errorf("the file was replaced: %q", b)
	}
}

// A writer waits while another holds the folder's lock (another sluice
// process writing the same folder).
func TestWriteFileWaitsForLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- WriteFile(filepath.Join(dir, "x.prom"), Run(report("backup", true, 100), RunOptions{}))
	}()
	select {
	case err := <-done:
		t.Fatalf("WriteFile did not wait for the lock (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
