package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// The page is hand-drawn SVG inside html/template rather than a charting
// library: the drawings are boxes, lines and bars, and html/template's
// contextual escaping then covers every label (step ids, error messages and
// outputs come from plans and servers). SVG libraries such as ajstarks/svgo
// write strings straight to the output and would need every label escaped by
// hand and the result passed back as template.HTML, bypassing the escaper.
//
//go:embed html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(pageFuncs(template.FuncMap{
	"rate":    humanRate,
	"flatten": flattenOutputs,
	"scalar":  Scalar,
	"half":    func(n int) int { return n / 2 },
	"indent":  func(depth int) int { return 24 * depth },
	"add":     func(a, b int) int { return a + b },
	"addf":    func(a, b float64) float64 { return a + b },
	"barw": func(n, maxN int64) float64 {
		if maxN <= 0 {
			return 0
		}
		return 200 * float64(n) / float64(maxN)
	},
	"edge": func(e dagEdge) string {
		mid := (e.Y1 + e.Y2) / 2
		return fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", e.X1, e.Y1, e.X1, mid, e.X2, mid, e.X2, e.Y2-3)
	},
	"short": func(s string, n int) string {
		r := []rune(s)
		if len(r) <= n {
			return s
		}
		return string(r[:n-1]) + "…"
	},
})).Parse(htmlSource))

// pageFuncs are the template functions of both HTML pages, a run's and a
// fleet's, with a page's own added.
func pageFuncs(own template.FuncMap) template.FuncMap {
	funcs := template.FuncMap{
		"class":     statusClass,
		"gateClass": gateClass,
		"bytes":     runner.FormatBytes,
		"seconds":   humanSeconds,
		"time":      utcStamp,
	}
	maps.Copy(funcs, own)
	return funcs
}

// writePage executes page with v and writes the result to w, all or
// nothing.
func writePage(w io.Writer, page *template.Template, v any) error {
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return fmt.Errorf("rendering html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlView is what the page template reads.
type htmlView struct {
	R       *runner.Report
	Verdict string
	Counts  string
	Gates   []gateRef
	Failed  int // failed gates
	// NotEvaluated counts the gates of steps that did not get to decide.
	NotEvaluated int
	Checklists   []checklist
	DAG          dagLayout
	Gantt        ganttLayout
	Groups       []streamGroup
	Steps        []stepView
}

// stepView is one step's card: its record, its type's own section if any,
// and its outputs. Items and called plans' steps get cards under their
// step's, indented by depth.
type stepView struct {
	stepRow
	Section *runner.ReportSection
	Rows    []outputRow
}

// WriteHTML writes r as one self-contained HTML page: inline CSS and SVG, no
// script, no network access. reg gives the step types' own sections and
// checklists (nil: none).
func WriteHTML(w io.Writer, r *runner.Report, reg *runner.Registry) error {
	v := htmlView{
		R:       r,
		Verdict: Verdict(r),
		Counts:  statusCounts(r),
		Gates:   allGates(r),
		DAG:     layoutDAG(r),
		Gantt:   layoutGantt(r),
		Groups:  streamGroups(r),
	}
	v.Checklists = checklists(r, reg)
	for _, g := range v.Gates {
		switch {
		case g.Failed():
			v.Failed++
		case g.NotEvaluated:
			v.NotEvaluated++
		}
	}
	for _, row := range allSteps(r) {
		s := row.StepReport
		sv := stepView{stepRow: row, Rows: flattenOutputs(s.Outputs)}
		sec, err := sectionOf(reg, s)
		if err != nil {
			return fmt.Errorf("rendering html: step %q: %w", row.Path, err)
		}
		sv.Section = sec
		v.Steps = append(v.Steps, sv)
	}
	return writePage(w, htmlTemplate, v)
}

// checklist is a step whose type names a Checklist output (an assert step
// with a message): its gates read as the items of a checklist (an audit),
// each with its result and evidence.
type checklist struct {
	Step, Title  string
	Items        []runner.GateResult
	Passed, Fail int
	NotEvaluated int
}

func checklists(r *runner.Report, reg *runner.Registry) []checklist {
	var out []checklist
	for _, row := range allSteps(r) {
		s := row.StepReport
		title := checklistTitle(reg, s)
		if title == "" {
			continue
		}
		c := checklist{Step: row.Path, Title: title, Items: s.Gates}
		for _, g := range s.Gates {
			switch {
			case g.Passed:
				c.Passed++
			case g.NotEvaluated:
				c.NotEvaluated++
			default:
				c.Fail++
			}
		}
		out = append(out, c)
	}
	return out
}

// gateClass is the CSS class of a gate's result (GateResult.Result).
func gateClass(result string) string {
	return strings.ReplaceAll(result, " ", "-")
}

// statusClass is the CSS class of a status: st-succeeded, st-failed, ...
func statusClass(s runner.Status) string {
	return "st-" + strings.ToLower(string(s))
}
