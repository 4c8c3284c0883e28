package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/runner"
)

// runOutput is where a run's logs and stream progress go: on a terminal, a
// live view of one line per stream that redraws in place, with the logs
// scrolling above it; elsewhere (a pipe, CI, --log-format json), progress
// as periodic log lines.
type runOutput struct {
	logger   hclog.Logger
	progress func(runner.StreamProgress)
	live     *liveView // nil without a terminal
}

// runOutput builds the logger (everything it writes passes the redactor)
// and the progress sink for a run, after --log-level and --log-format
// (checkGlobals checked their values).
func (a *app) runOutput() *runOutput {
	format := a.globals.logFormat
	out := &runOutput{}
	var logTo io.Writer = a.stderr
	if format != "json" && showsLive(a.stderr) {
		f := a.stderr.(*os.File) // showsLive checked
		out.live = newLiveView(f, func() int {
			w, _, err := term.GetSize(int(f.Fd()))
			if err != nil {
				return 0
			}
			return w
		}, a.redactor.Redact)
		logTo = out.live
	}
	opts := &hclog.LoggerOptions{Name: "sluice", Level: hclog.LevelFromString(a.globals.logLevel), Output: a.redactor.Writer(logTo), JSONFormat: format == "json"}
	if format == "auto" && isTerminal(a.stderr) {
		opts.Color = hclog.AutoColor
	}
	out.logger = hclog.New(opts)
	if out.live != nil {
		out.progress = out.live.Progress
	} else {
		out.progress = logProgress(out.logger)
	}
	return out
}

// above returns w such that what is written to it appears above the live
// view (w as it is without one): for what a run prints to stdout while it
// goes on.
func (o *runOutput) above(w io.Writer) io.Writer {
	if o.live == nil {
		return w
	}
	return &aboveWriter{v: o.live, w: w}
}

// close clears what is left of the live view, before the run's summary.
func (o *runOutput) close() {
	if o.live != nil {
		o.live.Close()
	}
}

// showsLive says whether progress is drawn live on w: a terminal that
// understands cursor movement, outside CI (whose logs keep every line).
func showsLive(w io.Writer) bool {
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		return false
	}
	return os.Getenv("TERM") != "dumb" && isTerminal(w)
}

// logProgress returns a progress sink that logs each report of a running
// stream: bytes, rate and, when the source announced its size, the ETA.
func logProgress(log hclog.Logger) func(runner.StreamProgress) {
	return func(p runner.StreamProgress) {
		if p.Done {
			return // the step's own lines say how it ended
		}
		args := []any{"stream", p.Stream, "bytes", p.Bytes, "rate", rateText(p.Rate)}
		if p.Phase != "" {
			args = append(args, "phase", p.Phase)
		}
		if p.Target != "" {
			args = append([]any{"target", p.Target}, args...)
		}
		if p.Size > 0 {
			args = append(args, "size_bytes", p.Size)
		}
		if eta, ok := p.ETA(); ok {
			args = append(args, "eta", eta.Round(time.Second).String())
		}
		log.Info("stream progress", args...)
	}
}

// progressText is the live line of one stream, e.g.
// "dump  1.2 GiB of ~3.4 GiB (35%)  28 MiB/s  ETA 1m20s".
func progressText(p runner.StreamProgress) string {
	var b strings.Builder
	if p.Target != "" {
		b.WriteString(p.Target + ": ")
	}
	fmt.Fprintf(&b, "%s  ", p.Stream)
	if p.Phase != "" {
		b.WriteString(p.Phase + " ")
	}
	b.WriteString(runner.FormatBytes(p.Bytes))
	if p.Size > 0 {
		fmt.Fprintf(&b, " of ~%s", runner.FormatBytes(p.Size))
		if p.Bytes <= p.Size {
			fmt.Fprintf(&b, " (%d%%)", p.Bytes*100/p.Size)
		}
	}
	fmt.Fprintf(&b, "  %s", rateText(p.Rate))
	if eta, ok := p.ETA(); ok {
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

func rateText(bytesPerSecond float64) string {
	return runner.FormatBytes(int64(max(bytesPerSecond, 0))) + "/s"
}
