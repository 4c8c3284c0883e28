package main

import (
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
)

// printPreviewWith prints s's with: mapping as it will run, with every
// ${{ }} known before the run (params, env, plan) resolved, and then the
// expressions that stay as written and what they wait for: a step's
// outputs, or the run itself (run.id, run.date).
func printPreviewWith(w io.Writer, s *runner.Step, env runner.Env, indent string) {
	with, waits := s.PreviewWith(env)
	if with == nil {
		return
	}
	if out, err := yaml.Marshal(with); err == nil {
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			fmt.Fprintf(w, "%s%s\n", indent, line)
		}
	}
	var order []string
	byWait := map[string][]string{}
	for _, wt := range waits {
		if _, seen := byWait[wt.Waits]; !seen {
			order = append(order, wt.Waits)
		}
		byWait[wt.Waits] = append(byWait[wt.Waits], "${{ "+wt.Expr+" }}")
	}
	for _, what := range order {
		fmt.Fprintf(w, "%swaits for %s: %s\n", indent, what, strings.Join(byWait[what], ", "))
	}
}

// previewWhen says what a when: expression decides before the run, when
// it can: " (true)", " (false: the step is skipped)", or what it waits for.
func previewWhen(e *runner.Expr, env runner.Env) string {
	v, known, wt := runner.PreviewExpr(e, env)
	switch {
	case !known:
		return " (waits for " + wt.Waits + ")"
	case v == true:
		return " (true)"
	case v == false:
		return " (false: the step is skipped)"
	}
	return fmt.Sprintf(" (%v: not a boolean, the run fails here)", v)
}
