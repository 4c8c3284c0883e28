package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestReportGatesNotEvaluated fails one sink's gate while its sibling's
// gate is true: the sibling is aborted, so its gate decided nothing and
// must not read as a pass; the gates of a step that never ran are listed
// as not evaluated rather than left out.
func TestReportGatesNotEvaluated(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	plan := streamPlan(dir, "", "", "", "")
	plan = strings.Replace(plan, "a:   {type: file,",
		"a:   {type: file, assert: [{that: steps.up.bytes_out < 1000, message: too big}],", 1)
	plan = strings.Replace(plan, "b:   {type: file,",
		"b:   {type: file, assert: [steps.b.bytes > 0],", 1)
	plan = strings.Replace(plan, "after: {type: act, needs: [a, b]}",
		"after: {type: act, needs: [a, b], assert: [{that: steps.after.value == \"\", message: never checked}]}", 1)
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	var ge *GateError
	if !errors.As(err, &ge) || ge.Step != "a" {
		t.Fatalf("error = %v, want a's gate", err)
	}
	want := map[string]struct {
		status Status
		result string
	}{
		"a":     {StatusFailed, "fail"},
		"b":     {StatusCancelled, "not evaluated"},
		"after": {StatusCancelled, "not evaluated"},
	}
	for id, w := range want {
		s := rep.Step(id)
		if s.Status != w.status {
			t.Errorf("%s: status %s, want %s", id, s.Status, w.status)
		}
		if len(s.Gates) != 1 {
			t.Errorf("%s: gates %+v, want one", id, s.Gates)
			continue
		}
		g := s.Gates[0]
		if g.Result() != w.result || (g.NotEvaluated && (g.Passed || g.Failed())) {
			t.Errorf("%s: gate %+v is %q, want %q", id, g, g.Result(), w.result)
		}
		if g.Line == 0 || g.Expr == "" {
			t.Errorf("%s: gate %+v lacks its expression or line", id, g)
		}
	}
	if g := rep.Step("after").Gates; len(g) == 1 && g[0].Message != "never checked" {
		t.Errorf("after's gate message %q, want the plan's", g[0].Message)
	}
}
