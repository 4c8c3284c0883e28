package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
)

// onGitHubActions reports whether sluice runs as a GitHub Actions step.
func onGitHubActions() bool { return os.Getenv("GITHUB_ACTIONS") == "true" }

// annotate prints plan errors and a failed gate as GitHub Actions
// annotations (::error file=…,line=…::…) on stdout, where the runner reads
// workflow commands, when running on GitHub Actions. Messages pass the
// redactor like everything else sluice prints.
func (a *app) annotate(err error) {
	if !onGitHubActions() {
		return
	}
	var (
		plan runner.PlanErrors
		gate *runner.GateError
		as   []render.Annotation
	)
	switch {
	case errors.As(err, &plan):
		as = render.PlanAnnotations(plan)
	case errors.As(err, &gate):
		as = []render.Annotation{render.GateAnnotation(gate)}
	default:
		return
	}
	for _, an := range as {
		an.Message = a.redactor.Redact(an.Message)
		fmt.Fprintln(a.stdout, an.String())
	}
}

// appendStepSummary appends the run's Markdown summary to the file named by
// $GITHUB_STEP_SUMMARY, when running on GitHub Actions.
func (a *app) appendStepSummary(rep *runner.Report) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if !onGitHubActions() || path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the GitHub step summary: %w", err)
	}
	if err := render.WriteMarkdown(a.redactor.Writer(f), rep); err != nil {
		f.Close()
		return fmt.Errorf("writing the GitHub step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the GitHub step summary: %w", err)
	}
	return nil
}
