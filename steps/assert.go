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
	}
}

// Assert is the parameter struct of the assert step. The step does nothing:
// the runner evaluates its assert: list after it ran, which makes it a gate.
type Assert struct {
	Message string `yaml:"message" doc:"text logged when the step runs, e.g. what the gate protects"`
}

var _ runner.Action = (*Assert)(nil)

// Run logs the message, if any.
func (a *Assert) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	if a.Message != "" && sc != nil && sc.Logger != nil {
		sc.Logger.Info(a.Message)
	}
	return runner.Outputs{}, ctx.Err()
}
