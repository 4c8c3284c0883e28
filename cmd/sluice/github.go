package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

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
		// The one place that issues workflow commands: past the defuser.
		fmt.Fprintln(a.annotations, an.String())
	}
}

// defuseWorkflowCommands wraps w, when running on GitHub Actions and w is
// not a regular file, so that nothing sluice prints (a step's stderr in an
// error, a log value, a name read from storage) becomes a workflow command
// such as ::add-mask::, ::stop-commands:: or an annotation. A regular file
// (stdout redirected to a report file) is not read by the runner and is
// left byte for byte.
func defuseWorkflowCommands(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return w
		}
	}
	return &commandDefuser{w: w}
}

// zeroWidthSpace breaks a workflow command without changing how the line
// reads: the runner's TrimStart does not remove it (it is not white space).
const zeroWidthSpace = "\u200b"

// commandDefuser inserts a zero-width space where the GitHub Actions runner
// would see a workflow command (actions/runner ActionCommand.TryParseV2 and
// TryParse): between the colons of "::" at the start of a line after white
// space (CR, LF and CRLF end lines), and between "##" and "[" anywhere. It
// keeps no text back, only the state of the current line.
type commandDefuser struct {
	mu     sync.Mutex
	w      io.Writer
	lead   int // 0: only white space so far in the line; 1: then one ':'; 2: past the start
	hashes int // '#' bytes just before
	buf    []byte
}

func (d *commandDefuser) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.buf[:0]
	for _, b := range p {
		switch {
		case b == '\n' || b == '\r':
			d.lead = 0
		case d.lead == 0 && (b == ' ' || b == '\t' || b == '\v' || b == '\f' || b >= 0x80):
			// White space; a non-ASCII byte may be part of Unicode white
			// space (U+00A0), which the runner trims too.
		case d.lead == 0 && b == ':':
			d.lead = 1
		case d.lead == 1 && b == ':':
			out = append(out, zeroWidthSpace...)
			d.lead = 2
		default:
			d.lead = 2
		}
		if b == '[' && d.hashes >= 2 {
			out = append(out, zeroWidthSpace...)
		}
		if b == '#' {
			d.hashes++
		} else {
			d.hashes = 0
		}
		out = append(out, b)
	}
	d.buf = out
	if _, err := d.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// appendStepSummary appends the run's Markdown summary to the file named by
// $GITHUB_STEP_SUMMARY, when running on GitHub Actions.
func (a *app) appendStepSummary(rep *runner.Report) error {
	return a.appendSummary(func(w io.Writer) error { return render.WriteMarkdown(w, rep) })
}

// appendSummary appends what write writes, redacted, to the GitHub step
// summary when running on GitHub Actions.
func (a *app) appendSummary(write func(io.Writer) error) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if !onGitHubActions() || path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the GitHub step summary: %w", err)
	}
	if err := write(a.redactor.Writer(f)); err != nil {
		f.Close()
		return fmt.Errorf("writing the GitHub step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the GitHub step summary: %w", err)
	}
	return nil
}
