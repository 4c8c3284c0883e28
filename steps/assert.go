package steps

import (
	"context"

	"github.com/sluice-dev/sluice/runner"
)

func assertDefinition() runner.Definition {
	return runner.Definition{
		Type:    "assert",
		Kind:    runner.KindAction,
		Summary: "Check the assert: expressions (a gate); does nothing else",
		New:     func() any { return &Assert{} },
		// An assert step with a message reads as a checklist in reports.
		Checklist: "message",
		Outputs: []runner.OutputSpec{
			{Name: "message", Type: "string", Doc: "the message parameter; reports show the step's gates as a checklist under it"},
		},
	}
}

// Assert is the parameter struct of the assert step. The step does nothing:
// the runner evaluates its assert: list after it ran, which makes it a gate.
type Assert struct {
	Message string `yaml:"message" doc:"what the gate protects, e.g. an audit checklist's title: logged, and the heading of the step's gates in reports"`
}

var _ runner.Action = (*Assert)(nil)

// Run logs the message, if any, and returns it.
func (a *Assert) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	if a.Message != "" {
		sc.Logger.Info(a.Message)
	}
	return runner.Outputs{"message": a.Message}, ctx.Err()
}
