package render

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// hostile is a value that would break out of HTML, XML, Markdown or a
// workflow command if any renderer forgot to escape it.
const hostile = `<script>alert("x")</script>]]>&amp;|**bold**%0A::error::`

// fixture returns a failed run with every kind of record: a stream group, a
// failed gate with operands, a skipped and a cancelled step, a step whose
// output carries hostile text, and outputs of the step types with sections.
func fixture(t *testing.T) *runner.Report {
	t.Helper()
	t0 := time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	raw := map[string]any{
		"hostile": hostile,
		"targets": map[string]any{
			"plain": map[string]any{"count": 1000.0, "p50_ms": 0.2, "p95_ms": 0.4, "p99_ms": 0.9,
				"histogram": []any{map[string]any{"le": 0.2, "count": 500.0}, map[string]any{"le": 0.5, "count": 490.0}, map[string]any{"le": 1.0, "count": 10.0}}},
			"tls": map[string]any{"count": 1000.0, "p50_ms": 0.25, "p95_ms": 0.5, "p99_ms": 1.1,
				"histogram": []any{[]any{0.2, 300.0}, []any{0.5, 650.0}, []any{1.2, 50.0}}},
		},
	}
	// Outputs reach a report through JSON; make them the same types.
	var outputs map[string]any
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &outputs); err != nil {
		t.Fatal(err)
	}
	return &runner.Report{
		Version: runner.ReportVersion, RunID: "20261126T220000Z-abcd", Plan: "nightly", PlanFile: "plans/nightly.yaml",
		Started: t0, Finished: at(10), DurationSeconds: 10, Status: runner.StatusFailed,
		Error:  `step "write": assertion failed: steps.write.bytes > 1000: steps.write.bytes = 6 (too small)`,
		Params: map[string]any{"db": "***", "dest": "file://./out"},
		Steps: []runner.StepReport{
			{ID: "read", Type: "download", Kind: runner.KindSource, Status: runner.StatusSucceeded, Started: at(1), Finished: at(3), DurationSeconds: 2, Attempts: 1,
				Bytes: &runner.ByteCounts{Out: 4 << 20}, Outputs: map[string]any{"bytes": 4194304.0, "url": "file://./in"}},
			{ID: "sum", Type: "checksum", Kind: runner.KindTransform, Input: "read", Deps: []string{"read"}, Status: runner.StatusSucceeded, Started: at(1), Finished: at(3), DurationSeconds: 2, Attempts: 1,
				Bytes: &runner.ByteCounts{In: 4 << 20, Out: 4 << 20}},
			{ID: "write", Type: "upload", Kind: runner.KindSink, Input: "sum", Deps: []string{"sum"}, Status: runner.StatusFailed, Started: at(1), Finished: at(3), DurationSeconds: 2, Attempts: 2,
				Error: "assertion failed: steps.write.bytes > 1000: steps.write.bytes = 6 (too small)",
				Bytes: &runner.ByteCounts{In: 4 << 20},
				Gates: []runner.GateResult{
					{Expr: "steps.write.bytes > 0", Passed: true, Operands: "steps.write.bytes = 6", File: "plans/nightly.yaml", Line: 20},
					{Expr: "steps.write.bytes > 1000", Message: "too small", Operands: "steps.write.bytes = 6", File: "plans/nightly.yaml", Line: 22},
				}},
			{ID: "bench", Type: "measure", Kind: runner.KindAction, Deps: []string{"read"}, Status: runner.StatusSucceeded, Started: at(3), Finished: at(9), DurationSeconds: 6, Attempts: 1, Outputs: outputs},
			{ID: "notify", Type: "exec", Kind: runner.KindAction, Deps: []string{"bench", "write"}, Status: runner.StatusCancelled, Error: `cancelled because step "write" failed`},
			{ID: "optional", Type: "exec", Kind: runner.KindAction, Status: runner.StatusSkipped},
		},
	}
}

// sectionOutputs decodes a JSON literal as step outputs.
func sectionOutputs(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
