package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/sluice-dev/sluice/runner"
)

// printSummary writes a short human table of a finished run: each step's
// status, time and bytes (for_each items and the steps of called plans
// under their step, by path: backup[shop]/upload), and each gate's result.
func printSummary(w io.Writer, rep *runner.Report, stateDir string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTYPE\tSTATUS\tTIME\tBYTES")
	rep.Walk(func(path string, depth int, s *runner.StepReport) {
		// What a streaming step passed on; for a sink, what it received.
		out := ""
		switch {
		case s.Bytes == nil:
		case s.Kind == runner.KindSink:
			out = humanBytes(s.Bytes.In)
		default:
			out = humanBytes(s.Bytes.Out)
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%.2fs\t%s\n", strings.Repeat("  ", depth), path, s.Type, s.Status, s.DurationSeconds, out)
	})
	_ = tw.Flush()
	rep.Walk(func(path string, _ int, s *runner.StepReport) {
		for _, g := range s.Gates {
			mark := "pass"
			if !g.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "gate %s %s: %s", mark, path, g.Expr)
			if !g.Passed && g.Operands != "" {
				fmt.Fprintf(w, " (%s)", g.Operands)
			}
			fmt.Fprintln(w)
		}
	})
	fmt.Fprintf(w, "run %s %s in %.1fs: %s/runs/%s/report.json\n",
		rep.RunID, rep.Status, rep.DurationSeconds, stateDir, rep.RunID)
}

// humanBytes renders n with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
