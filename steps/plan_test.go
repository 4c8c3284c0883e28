package steps

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// TestPlanStepOutputs runs a plan step and checks that it returns exactly
// the outputs its definition declares, with the called plan's outputs,
// gates and step statuses in them, also when the called plan fails.
func TestPlanStepOutputs(t *testing.T) {
	dir := t.TempDir()
	child := `version: 1
params:
  n: {type: int, default: 1}
outputs:
  twice: steps.check.message + steps.check.message
steps:
  check:
    type: assert
    with: {message: "m${{ params.n }}"}
    assert: [{that: params.n < 5, message: too big}]
`
	for name, src := range map[string]string{
		"child.yaml": child,
		"plan.yaml": `version: 1
steps:
  ok: {type: plan, with: {file: child.yaml, params: {n: 2}}}
  bad: {type: plan, continue_on_error: true, with: {file: child.yaml, params: {n: "${{ 3 + 4 }}"}}}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := runner.LoadFile(filepath.Join(dir, "plan.yaml"), Builtin())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{StateDir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	def, _ := Builtin().Lookup("plan")
	var declared []string
	for _, o := range def.Outputs {
		declared = append(declared, o.Name)
	}
	slices.Sort(declared)
	for _, id := range []string{"ok", "bad"} {
		s := rep.Step(id)
		var got []string
		for k := range s.Outputs {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, declared) {
			t.Errorf("%s: outputs %v, declared %v", id, got, declared)
		}
	}
	ok, bad := rep.Step("ok").Outputs, rep.Step("bad").Outputs
	if ok["outputs"].(map[string]any)["twice"] != "m2m2" || ok["gates_failed"] != int64(0) || ok["plan"] != "child" {
		t.Errorf("ok outputs: %v", ok)
	}
	if rep.Step("bad").Status != runner.StatusFailed || bad["gates_failed"] != int64(1) || bad["steps"].(map[string]any)["check"] != "failed" {
		t.Errorf("bad: %s, outputs %v", rep.Step("bad").Status, bad)
	}
	if g := bad["gates"].([]any)[0].(map[string]any); g["step"] != "check" || g["passed"] != false || g["message"] != "too big" {
		t.Errorf("bad gate: %v", g)
	}
}
