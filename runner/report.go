package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ReportVersion is the version of the report format this package writes.
const ReportVersion = 1

// Status is the state of a step or of a whole run.
type Status string

// Step statuses, and the run statuses (succeeded, failed, interrupted).
const (
	StatusPending     Status = "pending" // not finished yet; never in a written report
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped"
	StatusCancelled   Status = "cancelled"
	StatusInterrupted Status = "interrupted"
)

// Report is the record of one run, written to <run folder>/report.json. Error
// messages, outputs and params in it are redacted.
type Report struct {
	Version         int               `json:"version"`
	RunID           string            `json:"run_id"`
	Plan            string            `json:"plan"`
	PlanFile        string            `json:"plan_file"`
	Target          string            `json:"target,omitempty"` // the inventory target, when run with one
	Labels          map[string]string `json:"labels,omitempty"` // the target's labels
	Fleet           string            `json:"fleet,omitempty"`  // the id of the fleet run this run is part of
	Started         time.Time         `json:"started"`
	Finished        time.Time         `json:"finished"`
	DurationSeconds float64           `json:"duration_seconds"`
	Status          Status            `json:"status"`
	Error           string            `json:"error,omitempty"`
	Params          map[string]any    `json:"params"`
	Steps           []StepReport      `json:"steps"`             // in plan order
	Outputs         map[string]any    `json:"outputs,omitempty"` // the plan's outputs:
}

// StepReport is one step's record in a Report.
type StepReport struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Kind            Kind           `json:"kind"`
	Input           string         `json:"input,omitempty"` // the step whose stream this one reads
	Deps            []string       `json:"deps,omitempty"`  // every step this one waited for, sorted
	Status          Status         `json:"status"`
	Started         time.Time      `json:"started,omitzero"`
	Finished        time.Time      `json:"finished,omitzero"`
	DurationSeconds float64        `json:"duration_seconds"`
	Attempts        int            `json:"attempts"`
	Error           string         `json:"error,omitempty"`
	Bytes           *ByteCounts    `json:"bytes,omitempty"` // streaming steps only
	Outputs         map[string]any `json:"outputs,omitempty"`
	Gates           []GateResult   `json:"gates,omitempty"`
	// Items are the records of a for_each step's items, in order, each with
	// its Key (ID, Type, Kind and Input are the step's); the step's own
	// record sums them up.
	Items []StepReport `json:"items,omitempty"`
	Key   string       `json:"key,omitempty"` // an item's key: a map's key, or a list's index
	// Run is the run of the plan a step ran as one step (for a for_each
	// step, each item has its own), nested: its steps, gates and outputs.
	Run *Report `json:"run,omitempty"`
	// Outcome is what the step did, in one line (Definition.Outcome), for
	// a succeeded step whose type says it.
	Outcome string `json:"outcome,omitempty"`
}

// ByteCounts are the bytes a streaming step read from its input and wrote to
// its output, and where its time went: waiting for its producer (blocked
// reading), waiting for its consumers (blocked writing), and the rest, busy
// with its own work (a source's includes waiting for the program it reads,
// e.g. pg_dump; a sink's, for where it writes). In a stream every step runs
// for the whole stream; the one busy the longest sets its pace.
type ByteCounts struct {
	In             int64   `json:"in"`
	Out            int64   `json:"out"`
	InWaitSeconds  float64 `json:"in_wait_seconds,omitempty"`
	OutWaitSeconds float64 `json:"out_wait_seconds,omitempty"`
	BusySeconds    float64 `json:"busy_seconds,omitempty"`
}

// GateResult is the outcome of one assertion.
type GateResult struct {
	Expr    string `json:"expr"`
	Message string `json:"message,omitempty"`
	Passed  bool   `json:"passed"`
	// NotEvaluated says the assertion decided nothing: its step did not
	// run, or ended cancelled or failed for another reason (see
	// reportGates). Passed is then false, and the gate is not a failure.
	NotEvaluated bool   `json:"not_evaluated,omitempty"`
	Operands     string `json:"operands,omitempty"`
	File         string `json:"file,omitempty"`
	Line         int    `json:"line,omitempty"`
}

// Result is the gate's outcome in one word: "pass", "fail" or "not
// evaluated".
func (g GateResult) Result() string {
	switch {
	case g.NotEvaluated:
		return "not evaluated"
	case g.Passed:
		return "pass"
	}
	return "fail"
}

// Failed reports whether the gate was evaluated and is false.
func (g GateResult) Failed() bool { return !g.Passed && !g.NotEvaluated }

// Step returns the record of step id, or nil.
func (r *Report) Step(id string) *StepReport {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}

// Walk calls fn for every step record of r in plan order, depth first:
// each step, then its items (path ID[KEY]), then the steps of the run it
// called (path ID/CHILD, or ID[KEY]/CHILD for an item's). depth is 0 for
// r's own steps and grows by one for each item or called run level.
func (r *Report) Walk(fn func(path string, depth int, s *StepReport)) {
	var walk func(prefix string, depth int, s *StepReport)
	walk = func(path string, depth int, s *StepReport) {
		fn(path, depth, s)
		for i := range s.Items {
			walk(path+"["+s.Items[i].Key+"]", depth+1, &s.Items[i])
		}
		if s.Run != nil {
			for i := range s.Run.Steps {
				walk(path+"/"+s.Run.Steps[i].ID, depth+1, &s.Run.Steps[i])
			}
		}
	}
	for i := range r.Steps {
		walk(r.Steps[i].ID, 0, &r.Steps[i])
	}
}

// ReadReport reads a report written by Run.
func ReadReport(path string) (*Report, error) {
	return ReadJSONFile(path, "report", ReportVersion, func(r *Report) int { return r.Version })
}

// ReadJSONFile reads the JSON file at path, called what in errors
// ("report"), whose format version (as version reads it) must be want.
func ReadJSONFile[T any](path, what string, want int, version func(*T) int) (*T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", what, path, err)
	}
	if got := version(&v); got != want {
		return nil, fmt.Errorf("reading %s %s: version %d is not supported (this sluice reads version %d): use the sluice that wrote it", what, path, got, want)
	}
	return &v, nil
}

// WriteFile writes r to path atomically (see WriteJSONFile).
func (r *Report) WriteFile(path string) error {
	return WriteJSONFile(path, r)
}

// WriteJSONFile writes v as indented JSON to path atomically: a temporary
// file in the same folder, synced, then renamed over path. The file is
// readable by its owner only.
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.tmp")
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing report: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// reportValue turns an output or param value into a JSON-friendly value with
// every string and number redacted: durations become seconds, and values of
// other types go through a JSON round trip so that nothing escapes redaction.
func reportValue(v any, red *Redactor) any {
	switch x := v.(type) {
	case nil, bool:
		return x
	case int, int64, int32, uint, uint64, uint32, float64, float32:
		return red.redactNumber(x)
	case string:
		return red.Redact(x)
	case time.Duration:
		return x.Seconds()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = reportValue(e, red)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[red.Redact(k)] = reportValue(e, red)
		}
		return out
	case Outputs:
		return reportValue(map[string]any(x), red)
	case error:
		return red.Redact(x.Error())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return red.Redact(fmt.Sprint(v))
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return red.Redact(string(b))
	}
	return reportValue(generic, red)
}
