package steps

import (
	"context"

	"github.com/sluice-dev/sluice/runner"
)

func planDefinition() runner.Definition {
	return runner.Definition{
		Type: "plan",
		Kind: runner.KindAction,
		Summary: "Run another plan as one step: its params checked at load time, its outputs: as this step's outputs, " +
			"its steps nested under this one in the report",
		New:   func() any { return &PlanCall{} },
		Calls: &runner.CallSpec{File: "file", Params: "params", Outputs: "outputs"},
		Outputs: []runner.OutputSpec{
			{Name: "outputs", Type: "map", Doc: "the called plan's declared outputs (its outputs: section), e.g. steps.backup.outputs.object"},
			{Name: "plan", Type: "string", Doc: "the called plan's name"},
			{Name: "duration", Type: "duration", Doc: "how long the called plan ran"},
			{Name: "gates", Type: "list", Doc: "every gate of the called plan, nested calls included: step (its path, e.g. upload or backup/upload), expr, message, passed, operands"},
			{Name: "gates_failed", Type: "int", Doc: "how many of them failed"},
			{Name: "steps", Type: "map", Doc: "the status of each of the called plan's steps, by id"},
			{Name: "run_dir", Type: "string", Doc: "the called plan's run folder, inside this run's"},
		},
	}
}

// PlanCall is the parameter struct of the plan step. The runner loads the
// plan File names with the calling plan and checks Params against it; Run
// hands the values to StepContext.RunPlan.
type PlanCall struct {
	File   string         `yaml:"file" required:"true" doc:"the plan to run: a path relative to this plan's folder, or a plan name (NAME.yaml next to this plan or under --plans-dir); written out, not an expression"`
	Params map[string]any `yaml:"params" doc:"values of the called plan's params, checked against them at load time (unknown, missing required, wrong type); a secret param of the called plan keeps its value secret"`
}

var _ runner.Action = (*PlanCall)(nil)

// Run runs the called plan and returns what it gave back. The outputs are
// returned with a failure too, so that a later step can read the gates of
// a called plan that failed.
func (p *PlanCall) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	res, err := sc.RunPlan(ctx, p.Params)
	if res == nil {
		return nil, err
	}
	gates := make([]any, 0, len(res.Gates))
	failed := int64(0)
	for _, g := range res.Gates {
		gates = append(gates, map[string]any{
			"step": g.Step, "expr": g.Expr, "message": g.Message, "passed": g.Passed, "operands": g.Operands,
		})
		if !g.Passed {
			failed++
		}
	}
	steps := make(map[string]any, len(res.Steps))
	for id, st := range res.Steps {
		steps[id] = st
	}
	return runner.Outputs{
		"outputs":      res.Outputs,
		"plan":         res.Plan,
		"duration":     res.Duration,
		"gates":        gates,
		"gates_failed": failed,
		"steps":        steps,
		"run_dir":      res.RunDir,
	}, err
}
