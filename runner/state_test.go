package runner

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewRunID(t *testing.T) {
	at := time.Date(2026, 11, 26, 22, 34, 0, 0, time.FixedZone("CET", 3600))
	id := NewRunID(at)
	if !regexp.MustCompile(`^20261126T213400Z-[0-9a-f]{4}$`).MatchString(id) {
		t.Errorf("NewRunID = %q, want 20261126T213400Z-xxxx (UTC)", id)
	}
}

func TestCreateRunDir(t *testing.T) {
	state := t.TempDir()
	dir, err := createRunDir(state, "r1")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 || dir != filepath.Join(state, "runs", "r1") {
		t.Fatalf("run folder %s: %v, %v", dir, fi, err)
	}
	if _, err := createRunDir(state, "r1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run with the same id: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b", `a\b`} {
		if _, err := createRunDir(state, bad); err == nil {
			t.Errorf("run id %q accepted", bad)
		}
	}
}

func TestLatestRun(t *testing.T) {
	state := t.TempDir()
	if _, err := LatestRun(state); err == nil || !strings.Contains(err.Error(), "run a plan first") {
		t.Errorf("no runs: %v", err)
	}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Ids that do not sort by time: the report's start time decides.
	for i, id := range []string{"zz-old", "aa-new", "mm-mid"} {
		dir, err := createRunDir(state, id)
		if err != nil {
			t.Fatal(err)
		}
		started := map[int]time.Time{0: base, 1: base.Add(2 * time.Hour), 2: base.Add(time.Hour)}[i]
		rep := &Report{Version: ReportVersion, RunID: id, Started: started, Status: StatusSucceeded}
		if err := rep.WriteFile(filepath.Join(dir, ReportFile)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := createRunDir(state, "zzz-unfinished"); err != nil {
		t.Fatal(err)
	}
	got, err := LatestRun(state)
	if err != nil || got != "aa-new" {
		t.Errorf("LatestRun = %q, %v; want aa-new", got, err)
	}
}
