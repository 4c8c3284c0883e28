package main

import (
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runner"
)

// printOutcomes writes, for each step whose type says it, what the step
// did (runner.StepReport.Outcome): where a backup went and its manifest,
// what a drill read and restored, what a rotation changed. Items of
// for_each and the steps of called plans are named by path.
func printOutcomes(w io.Writer, rep *runner.Report) {
	rep.Walk(func(path string, _ int, s *runner.StepReport) {
		if s.Outcome != "" {
			fmt.Fprintf(w, "%s: %s\n", path, s.Outcome)
		}
	})
}
