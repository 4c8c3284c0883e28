package render

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// Finding is one item of a step's findings: what is wrong, how bad, the
// evidence and how to fix it.
type Finding struct {
	ID, Severity, Title, Evidence, Hint string
}

// stepFindings returns the findings among s's outputs, most severe first:
// the first output (by name) that is a non-empty list of objects, each with
// a string "id" and a "fix" (or "hint") field saying what to do. The shape is
// what counts, not the step type, so any step reporting findings this way
// gets them rendered with their fixes.
func stepFindings(s runner.StepReport) []Finding {
	for _, k := range slices.Sorted(maps.Keys(s.Outputs)) {
		if list, ok := s.Outputs[k].([]any); ok {
			if fs, shaped := Findings(list); shaped {
				return fs
			}
		}
	}
	return nil
}

// Findings reads the objects of list as findings, most severe first.
// shaped says every element is an object with an id and a fix field: the
// list is findings by its shape, whatever its name. Step types' sections
// show findings with it, so that they read as in every other format.
func Findings(list []any) (out []Finding, shaped bool) {
	shaped = len(list) > 0
	for _, e := range list {
		m, ok := asMap(e)
		if !ok {
			shaped = false
			continue
		}
		_, fix := m["fix"]
		_, hint := m["hint"]
		f := Finding{ID: str(m, "id"), Severity: str(m, "severity"), Title: str(m, "title"), Evidence: str(m, "evidence", "message"), Hint: str(m, "fix", "hint")}
		if f.ID == "" || !(fix || hint) {
			shaped = false
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return severityRank(out[i].Severity) < severityRank(out[j].Severity)
	})
	return out, shaped
}

// findingsText lists findings one per line for plain-text formats (JUnit
// failure bodies): "- ID (severity): title. Fix: ...".
func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "- %s", f.ID)
		if f.Severity != "" {
			fmt.Fprintf(&b, " (%s)", f.Severity)
		}
		if f.Title != "" {
			fmt.Fprintf(&b, ": %s", f.Title)
		}
		if f.Hint != "" {
			fmt.Fprintf(&b, ". Fix: %s", f.Hint)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// gateFindings returns the findings of the steps the expression of the
// gate at path reads (steps.ID...): the steps of the same run, those of a
// called plan for a gate inside it.
func gateFindings(r *runner.Report, path, expr string) []Finding {
	prefix := ""
	if i := strings.LastIndex(path, "/"); i >= 0 {
		prefix = path[:i+1]
	}
	var out []Finding
	for _, row := range allSteps(r) {
		id, ok := strings.CutPrefix(row.Path, prefix)
		if ok && !strings.ContainsAny(id, "/[") && strings.Contains(expr, "steps."+id+".") {
			out = append(out, stepFindings(row.StepReport)...)
		}
	}
	return out
}

// Severities are the severities of findings, most severe first.
var Severities = []string{"critical", "high", "medium", "low", "info"}

func severityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// asMap returns v as a JSON object.
func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// str returns the first string among the values of keys in m, or "".
func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			return s
		}
	}
	return ""
}
