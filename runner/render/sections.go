package render

import (
	"bytes"
	"html/template"
	"sort"

	"github.com/sluice-dev/sluice/runner"
)

// Section is the HTML block a step type adds to its step's card, above the
// table of its outputs. Body comes from an html/template, so it is escaped.
type Section struct {
	Kind  string // the step type, for tests and styling
	Title string
	Body  template.HTML
}

// SectionFunc renders a step type's own section from the step's record. It
// returns nil when the outputs are not in the shape it knows: the page then
// shows the generic outputs table only.
type SectionFunc func(s runner.StepReport) (*Section, error)

// sectionsByType is the explicit list of step types with a section of their
// own. A new step type with outputs worth a chart adds one line here.
var sectionsByType = map[string]SectionFunc{
	"measure":         measureSection,
	"assert-overhead": overheadSection,
	"check-tls":       tlsSection,
	"rotate-key":      keySection,
}

// execSection runs one of the section templates into a Section.
func execSection(kind, title string, t *template.Template, data any) (*Section, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	// The body was produced by html/template, which escaped every value.
	return &Section{Kind: kind, Title: title, Body: template.HTML(b.String())}, nil
}

// sectionFuncs are the helpers section templates share with the page.
var sectionFuncs = template.FuncMap{
	"scalar":  scalar,
	"pct":     pct,
	"add":     func(a, b int) int { return a + b },
	"legendY": func(i int) int { return 24 + 16*i },
	"addf":    func(a, b float64) float64 { return a + b },
	"mul100":  func(a float64) float64 { return 100 * a },
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// asMap returns v as a JSON object.
func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// str returns the string at key k of m, or "".
func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			return s
		}
	}
	return ""
}
