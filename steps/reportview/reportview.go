// Package reportview draws the HTML report sections of the step types whose
// outputs read better as a chart or a table than as a list of values: the
// latency of a measure step, the overhead of an assert-overhead gate, the
// findings of a TLS audit, the key changes of a rotation. Each step type's
// definition hands its function to the runner (runner.Definition.Section),
// so that runner/render names no step type. Every function reads a step's
// record as report.json holds it, and returns nil for outputs in a shape it
// does not know.
package reportview

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
)

// execSection runs one of the section templates into a section.
func execSection(title string, t *template.Template, data any) (*runner.ReportSection, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	// The body was produced by html/template, which escaped every value.
	return &runner.ReportSection{Title: title, Body: template.HTML(b.String())}, nil
}

// sectionFuncs are the helpers the section templates share.
var sectionFuncs = template.FuncMap{
	"scalar":  render.Scalar,
	"pct":     pct,
	"add":     func(a, b int) int { return a + b },
	"legendY": func(i int) int { return 24 + 16*i },
	"addf":    func(a, b float64) float64 { return a + b },
	"mul100":  func(a float64) float64 { return 100 * a },
}

// row is one labelled value of a section's table or line of facts.
type row struct {
	Key   string
	Value string
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// asMap returns v as a JSON object.
func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// str returns the string at key k of m, or "".
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// round1 rounds an SVG coordinate to a tenth of a unit.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// pct formats a ratio as a signed percentage: 0.031 -> +3.10%.
func pct(v float64) string { return fmt.Sprintf("%+.2f%%", 100*v) }

// lookup follows a dotted path through nested maps.
func lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}
