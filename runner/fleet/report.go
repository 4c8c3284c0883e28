package fleet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// ReportVersion is the version of the fleet report format.
const ReportVersion = 1

// ReportFile is the name of the combined report inside a fleet's folder
// (<state dir>/runs/<fleet id>/).
const ReportFile = "fleet.json"

// Report is the combined record of a fleet run: one entry per target, each
// with the target's own report. Strings in it are redacted.
type Report struct {
	Version         int           `json:"version"`
	FleetID         string        `json:"fleet_id"`
	Plan            string        `json:"plan"`
	PlanFile        string        `json:"plan_file"`
	Inventory       string        `json:"inventory"`
	Parallel        int           `json:"parallel"`
	Started         time.Time     `json:"started"`
	Finished        time.Time     `json:"finished"`
	DurationSeconds float64       `json:"duration_seconds"`
	Status          runner.Status `json:"status"` // succeeded when every target did
	Targets         []Target      `json:"targets"`
}

// Target is one target's outcome in a fleet Report.
type Target struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	RunID  string            `json:"run_id,omitempty"` // of the last attempt; empty when it never ran
	Status runner.Status     `json:"status"`
	// Outcome says what decided the status: succeeded, failed (a step or
	// the run), gate-failed (an assert was false), interrupted, or
	// not-run (its params could not be resolved, or the fleet was
	// interrupted first).
	Outcome         Outcome   `json:"outcome"`
	Error           string    `json:"error,omitempty"`
	Attempts        int       `json:"attempts"`
	Started         time.Time `json:"started,omitzero"`
	Finished        time.Time `json:"finished,omitzero"`
	DurationSeconds float64   `json:"duration_seconds"`
	// StoredBytes is what the run's sinks received (the backup's size).
	StoredBytes int64 `json:"stored_bytes"`
	GatesPassed int   `json:"gates_passed"`
	GatesFailed int   `json:"gates_failed"`
	// Run is the target's own report (of its last attempt); absent when it
	// never ran.
	Run *runner.Report `json:"run,omitempty"`
}

// Outcome classifies how a target's run ended.
type Outcome string

// The outcomes, from best to worst (see Worse).
const (
	OutcomeSucceeded   Outcome = "succeeded"
	OutcomeGateFailed  Outcome = "gate-failed"
	OutcomeFailed      Outcome = "failed"
	OutcomeNotRun      Outcome = "not-run"
	OutcomeInterrupted Outcome = "interrupted"
)

var severity = map[Outcome]int{OutcomeSucceeded: 0, OutcomeGateFailed: 1, OutcomeFailed: 2, OutcomeNotRun: 2, OutcomeInterrupted: 3}

// Worse reports whether a is a worse outcome than b: interrupted, then a
// failed or unrun target (no backup was made), then a failed gate (the run
// finished but a check said no), then success.
func Worse(a, b Outcome) bool { return severity[a] > severity[b] }

// Counts returns how many targets ended with each outcome.
func (r *Report) Counts() map[Outcome]int {
	out := map[Outcome]int{}
	for _, t := range r.Targets {
		out[t.Outcome]++
	}
	return out
}

// Dir returns the folder of fleet id under stateDir.
func Dir(stateDir, id string) string { return runner.RunDir(stateDir, id) }

// ReadReport reads a fleet report written by Run.
func ReadReport(path string) (*Report, error) {
	return runner.ReadJSONFile(path, "fleet report", ReportVersion, func(r *Report) int { return r.Version })
}

// IsFleet reports whether the run folder id under stateDir is a fleet's
// (holds a fleet report).
func IsFleet(stateDir, id string) bool {
	_, err := os.Stat(filepath.Join(Dir(stateDir, id), ReportFile))
	return !errors.Is(err, fs.ErrNotExist)
}

// Latest returns the id of the newest finished run or fleet under
// stateDir: the newest run by start time, or the fleet it is part of when
// it is a fleet's target, or a newer fleet none of whose targets ran.
func Latest(stateDir string) (id string, isFleet bool, err error) {
	runs := filepath.Join(stateDirOrDefault(stateDir), "runs")
	entries, err := os.ReadDir(runs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("no runs recorded in %s: run a plan first", stateDirOrDefault(stateDir))
		}
		return "", false, fmt.Errorf("listing runs: %w", err)
	}
	var bestAt time.Time
	consider := func(at time.Time, name string, fleet bool) {
		if id == "" || at.After(bestAt) || (at.Equal(bestAt) && name > id) {
			id, isFleet, bestAt = name, fleet, at
		}
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(runs, e.Name())
		if fr, err := ReadReport(filepath.Join(dir, ReportFile)); err == nil {
			consider(fr.Started, e.Name(), true)
			continue
		}
		rep, err := runner.ReadReport(filepath.Join(dir, runner.ReportFile))
		if err != nil {
			continue // running, killed, or not a run
		}
		if rep.Fleet != "" && IsFleet(stateDir, rep.Fleet) {
			// A target's run stands for its fleet, which ended after it.
			consider(rep.Started, rep.Fleet, true)
			continue
		}
		consider(rep.Started, e.Name(), false)
	}
	if id == "" {
		return "", false, fmt.Errorf("no finished run with a readable report in %s", runs)
	}
	return id, isFleet, nil
}

func stateDirOrDefault(s string) string {
	if s == "" {
		return runner.DefaultStateDir
	}
	return s
}
