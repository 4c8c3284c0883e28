// Package render turns a run's report.json (a runner.Report) into the
// formats people and CI systems read: a self-contained HTML page with charts,
// JUnit XML, Markdown and GitHub Actions annotations. Every format is
// generated from the report alone, so a report can be rendered again later,
// on another machine, by `sluice report`.
//
// Step types with richer outputs get their own HTML section from their
// definition (runner.Definition.Section), through the registry the caller
// passes; every step also shows a table of its outputs. The items of a
// for_each step and the steps of a plan a step ran (a report's Items and
// Run) appear under that step in every format; nothing here depends on
// which step type made them.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// Format is an output format of a report.
type Format string

// The formats a report renders to.
const (
	HTML     Format = "html"
	JUnit    Format = "junit"
	Markdown Format = "markdown"
	JSON     Format = "json"
)

// Formats lists every format, in the order help texts show them.
var Formats = []Format{HTML, JUnit, Markdown, JSON}

// FileName is the default file name of a format inside a run folder.
func (f Format) FileName() string {
	switch f {
	case HTML:
		return "report.html"
	case JUnit:
		return "junit.xml"
	case Markdown:
		return "report.md"
	}
	return "report.json"
}

// ParseFormat checks a format name; "md" and "xml" are accepted as aliases.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "html":
		return HTML, nil
	case "junit", "xml":
		return JUnit, nil
	case "markdown", "md":
		return Markdown, nil
	case "json":
		return JSON, nil
	}
	return "", errUnknownFormat(s)
}

// Render writes r to w in format f. reg is the registry of the step types
// that made the report: the HTML page shows each type's own section and
// checklists through it (nil: none, the outputs tables only).
func Render(w io.Writer, f Format, r *runner.Report, reg *runner.Registry) error {
	html := func(w io.Writer, r *runner.Report) error { return WriteHTML(w, r, reg) }
	return renderAs(w, f, r, html, WriteJUnit, WriteMarkdown)
}

// renderAs writes report r to w in format f with the writer of that
// format (JSON: r as it is).
func renderAs[R any](w io.Writer, f Format, r R, html, junit, markdown func(io.Writer, R) error) error {
	switch f {
	case HTML:
		return html(w, r)
	case JUnit:
		return junit(w, r)
	case Markdown:
		return markdown(w, r)
	case JSON:
		return writeJSON(w, r)
	}
	return errUnknownFormat(string(f))
}

func errUnknownFormat(name string) error {
	return fmt.Errorf("unknown report format %q: use html, junit, markdown or json", name)
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("rendering json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Verdict is the one-word outcome of a run shown in every header: PASS,
// FAIL or INTERRUPTED.
func Verdict(r *runner.Report) string {
	switch r.Status {
	case runner.StatusSucceeded:
		return "PASS"
	case runner.StatusInterrupted:
		return "INTERRUPTED"
	}
	return "FAIL"
}

// gateRef is a gate with the step it belongs to.
type gateRef struct {
	Step string
	runner.GateResult
}

// allGates lists every gate of the run in plan order, those of for_each
// items and of called plans included, each with its step's path
// (runner.Report.Walk).
func allGates(r *runner.Report) []gateRef {
	var out []gateRef
	r.Walk(func(path string, _ int, s *runner.StepReport) {
		for _, g := range s.Gates {
			out = append(out, gateRef{Step: path, GateResult: g})
		}
	})
	return out
}

// stepRow is a step record with its path: a step of the run (its id), an
// item of a for_each step (ID[KEY]) or a step of a plan a step ran
// (ID/CHILD), and how deep it is nested.
type stepRow struct {
	Path  string
	Depth int
	runner.StepReport
}

// allSteps lists every step record of the run in plan order, the items and
// the called plans' steps under the step they belong to.
func allSteps(r *runner.Report) []stepRow {
	var out []stepRow
	r.Walk(func(path string, depth int, s *runner.StepReport) {
		out = append(out, stepRow{Path: path, Depth: depth, StepReport: *s})
	})
	return out
}

// statusCounts counts the steps per status, e.g. "8 succeeded, 2 skipped".
func statusCounts(r *runner.Report) string {
	n := map[runner.Status]int{}
	for _, s := range r.Steps {
		n[s.Status]++
	}
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
	}
	return strings.Join(parts, ", ")
}

// gateLine describes a gate for text formats: the expression, the operand
// values and the message.
func gateLine(g runner.GateResult) string {
	s := g.Expr
	if g.Operands != "" {
		s += ": " + g.Operands
	}
	if g.Message != "" {
		s += " (" + g.Message + ")"
	}
	return s
}
