package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// WriteMarkdown writes r as GitHub-flavoured Markdown: a verdict line, the
// failures first, then a table of the steps (for_each items and the steps
// of called plans under their step, ↳ marking the depth), one of the gates
// and one of each step's findings with their fixes. It is what
// `sluice run` appends to $GITHUB_STEP_SUMMARY.
func WriteMarkdown(w io.Writer, r *runner.Report) error {
	b := bufio.NewWriter(w)
	icon := map[string]string{"PASS": "✅", "FAIL": "❌", "INTERRUPTED": "⏹️"}[Verdict(r)]
	fmt.Fprintf(b, "## %s sluice: %s — %s\n\n", icon, mdText(r.Plan), Verdict(r))
	fmt.Fprintf(b, "Run `%s` started %s, took %s: %s.\n\n", mdCode(r.RunID), utcStamp(r.Started), humanSeconds(r.DurationSeconds), statusCounts(r))
	if r.Error != "" {
		fmt.Fprintf(b, "> **Error:** %s\n\n", mdText(r.Error))
	}
	fmt.Fprintln(b, "| step | type | status | duration | bytes | error |")
	fmt.Fprintln(b, "|---|---|---|---:|---:|---|")
	for _, row := range allSteps(r) {
		s := row.StepReport
		out := ""
		if s.Bytes != nil {
			out = runner.FormatBytes(s.Bytes.Out)
			if s.Kind == runner.KindSink {
				out = runner.FormatBytes(s.Bytes.In) // what it stored
			}
		}
		fmt.Fprintf(b, "| %s%s | %s | %s | %s | %s | %s |\n", strings.Repeat("↳ ", row.Depth), mdCell(row.Path), mdCell(s.Type), statusWord(s.Status),
			humanSeconds(s.DurationSeconds), out, mdCell(s.Error))
	}
	if gates := allGates(r); len(gates) > 0 {
		fmt.Fprintln(b, "\n| gate | step | expression | operand values | message |")
		fmt.Fprintln(b, "|---|---|---|---|---|")
		for _, g := range gates {
			res := map[string]string{"pass": "✅ pass", "fail": "❌ fail"}[g.Result()]
			if res == "" {
				res = "⏸️ " + g.Result()
			}
			fmt.Fprintf(b, "| %s | %s | `%s` | %s | %s |\n", res, mdCell(g.Step), mdCode(g.Expr), mdCell(g.Operands), mdCell(g.Message))
		}
	}
	writeMarkdownFindings(b, r)
	return b.Flush()
}

// writeMarkdownFindings adds a table per step with findings (stepFindings):
// what was found and how to fix it, most severe first.
func writeMarkdownFindings(b io.Writer, r *runner.Report) {
	for _, row := range allSteps(r) {
		fs := stepFindings(row.StepReport)
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n### Findings of step `%s`\n\n", mdCode(row.Path))
		fmt.Fprintln(b, "| severity | finding | evidence | how to fix |")
		fmt.Fprintln(b, "|---|---|---|---|")
		for _, f := range fs {
			fmt.Fprintf(b, "| %s | %s `%s` | %s | %s |\n", mdCell(f.Severity), mdCell(f.Title), mdCode(f.ID), mdCell(f.Evidence), mdCell(f.Hint))
		}
	}
}

func statusWord(s runner.Status) string {
	switch s {
	case runner.StatusSucceeded:
		return "✅ succeeded"
	case runner.StatusFailed:
		return "❌ failed"
	}
	return string(s)
}

// mdText escapes the characters Markdown or HTML would interpret, keeping
// the text on one line.
func mdText(s string) string {
	r := strings.NewReplacer(
		"\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
		"<", "&lt;", ">", "&gt;", "&", "&amp;", "#", "\\#", "|", "\\|",
		"\r\n", " ", "\n", " ", "\r", " ",
	)
	return r.Replace(s)
}

// mdCell is mdText for a table cell (pipes are escaped there too).
func mdCell(s string) string { return mdText(s) }

// mdCode makes s safe inside a single-backtick code span.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", "\\|").Replace(s)
}
