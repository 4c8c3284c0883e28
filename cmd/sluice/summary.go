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
// under their step, by path: backup[shop]/upload), for streaming steps
// where their time went, so that the slowest stage of a stream stands out,
// what the steps did, and each gate's result.
func printSummary(w io.Writer, rep *runner.Report, stateDir string) {
	slowest := slowestStages(rep)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTYPE\tSTATUS\tTIME\tBYTES\tBUSY\tSPEED\t")
	rep.Walk(func(path string, depth int, s *runner.StepReport) {
		// What a streaming step passed on; for a sink, what it received.
		out, busy, speed, mark := "", "", "", ""
		if b := s.Bytes; b != nil {
			out = runner.FormatBytes(b.Out)
			if s.Kind == runner.KindSink {
				out = runner.FormatBytes(b.In)
			}
			if s.DurationSeconds > 0 {
				busy = fmt.Sprintf("%.2fs %3.0f%%", b.BusySeconds, 100*b.BusySeconds/s.DurationSeconds)
			}
			if b.BusySeconds >= 0.1*s.DurationSeconds && b.BusySeconds > 0 {
				// The rate the stage would keep alone: what it handled (the
				// larger side: plaintext for a codec) per second of its own
				// work. Not shown for a stage that mostly waited, whose
				// few busy moments say little of its speed.
				speed = runner.FormatBytes(int64(float64(max(b.In, b.Out))/b.BusySeconds)) + "/s"
			}
			if slowest[path] {
				mark = "<- slowest stage"
			}
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%.2fs\t%s\t%s\t%s\t%s\n", strings.Repeat("  ", depth), path, s.Type, s.Status, s.DurationSeconds, out, busy, speed, mark)
	})
	_ = tw.Flush()
	printOutcomes(w, rep)
	rep.Walk(func(path string, _ int, s *runner.StepReport) {
		for _, g := range s.Gates {
			mark := g.Result()
			if g.Failed() {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "gate %s %s: %s", mark, path, g.Expr)
			if g.Failed() && g.Operands != "" {
				fmt.Fprintf(w, " (%s)", g.Operands)
			}
			fmt.Fprintln(w)
		}
	})
	fmt.Fprintf(w, "run %s %s in %.1fs: %s/runs/%s/report.json\n",
		rep.RunID, rep.Status, rep.DurationSeconds, stateDir, rep.RunID)
}

// slowestStages returns the paths (as Report.Walk names them) of the step
// busy the longest in each stream of two steps or more: the one the others
// waited for. A stream is a source and the steps that read from it, within
// one plan (a called plan's streams are its own) and one for_each item.
func slowestStages(rep *runner.Report) map[string]bool {
	out := map[string]bool{}
	var scope func(prefix string, steps []runner.StepReport)
	scope = func(prefix string, steps []runner.StepReport) {
		input := map[string]string{}
		for _, s := range steps {
			input[s.ID] = s.Input
		}
		source := func(id string) string {
			for input[id] != "" {
				id = input[id]
			}
			return id
		}
		type best struct {
			path    string
			busy    float64
			members int
		}
		streams := map[string]*best{}
		var visit func(path, stream string, s *runner.StepReport)
		visit = func(path, stream string, s *runner.StepReport) {
			if s.Bytes != nil {
				b := streams[stream]
				if b == nil {
					b = &best{}
					streams[stream] = b
				}
				b.members++
				if b.path == "" || s.Bytes.BusySeconds > b.busy {
					b.path, b.busy = path, s.Bytes.BusySeconds
				}
			}
			for i := range s.Items {
				it := &s.Items[i]
				visit(path+"["+it.Key+"]", stream+"["+it.Key+"]", it)
			}
			if s.Run != nil {
				scope(path+"/", s.Run.Steps)
			}
		}
		for i := range steps {
			visit(prefix+steps[i].ID, source(steps[i].ID), &steps[i])
		}
		for _, b := range streams {
			if b.members > 1 && b.busy > 0 {
				out[b.path] = true
			}
		}
	}
	scope("", rep.Steps)
	return out
}
