package runner

import (
	"context"
	"testing"
)

// A failing action's outputs stay in the report: an audit that fails still
// shows its evidence.
func TestRunKeepsOutputsOfFailedAction(t *testing.T) {
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  audit: {type: act, with: {fails: -1, value: evidence, outputs_on_error: true}}
`, RunOptions{})
	if err == nil {
		t.Fatal("run succeeded, want the action's failure")
	}
	if got := rep.Step("audit").Outputs["value"]; got != "evidence" {
		t.Errorf("outputs of the failed step = %v, want value=evidence", rep.Step("audit").Outputs)
	}
}
