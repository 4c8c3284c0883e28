package runner

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultStateDir is where runs are recorded when RunOptions.StateDir is
// empty.
const DefaultStateDir = ".sluice"

// ReportFile is the name of a run's report inside its run folder.
const ReportFile = "report.json"

// NewRunID returns a run id for a run started at now: the UTC time and a
// short random suffix, e.g. 20261126T223400Z-3f9a. Ids sort by start time.
func NewRunID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// RunDir returns the folder of run id under stateDir.
func RunDir(stateDir, id string) string {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	return filepath.Join(stateDir, "runs", id)
}

// checkRunID rejects ids that would escape the runs folder.
func checkRunID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, `/\`) {
		return fmt.Errorf("run id %q is not usable as a folder name: use letters, digits, '-' and '_'", id)
	}
	return nil
}

// createRunDir creates the folder of a new run with mode 0700. It fails when
// the folder exists: two runs never share one.
func createRunDir(stateDir, id string) (string, error) {
	if err := checkRunID(id); err != nil {
		return "", err
	}
	dir := RunDir(stateDir, id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("creating run folder: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("creating run folder: run %q already exists in %s: choose another run id", id, filepath.Dir(dir))
		}
		return "", fmt.Errorf("creating run folder: %w", err)
	}
	return dir, nil
}

// LatestRun returns the id of the newest finished run under stateDir: the
// one whose report says it started last. Runs without a report (still
// running, or killed) are not considered.
func LatestRun(stateDir string) (string, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	runs := filepath.Join(stateDir, "runs")
	entries, err := os.ReadDir(runs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no runs recorded in %s: run a plan first", stateDir)
		}
		return "", fmt.Errorf("listing runs: %w", err)
	}
	var (
		best    string
		bestAt  time.Time
		skipped int
	)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rep, err := ReadReport(filepath.Join(runs, e.Name(), ReportFile))
		if err != nil {
			skipped++
			continue
		}
		if best == "" || rep.Started.After(bestAt) || (rep.Started.Equal(bestAt) && e.Name() > best) {
			best, bestAt = e.Name(), rep.Started
		}
	}
	if best == "" {
		return "", fmt.Errorf("no finished run with a readable %s in %s (%d folders without one)", ReportFile, runs, skipped)
	}
	return best, nil
}
