package render

import (
	"github.com/sluice-dev/sluice/runner"
)

// A step type's own HTML section comes from its definition
// (runner.Definition.Section), looked up in the registry the caller gives:
// render names no step type. A section's body is HTML from html/template;
// besides plain tables it may use the page's classes: num (a right-aligned
// number), mono, muted, badge with pass, fail, inconclusive or
// sev-critical ... sev-info, and, in SVG, tick (an axis line). Checklists
// come from a definition too (runner.Definition.Checklist).

// sectionOf renders the section step type s.Type contributes, if any.
func sectionOf(reg *runner.Registry, s runner.StepReport) (*runner.ReportSection, error) {
	if reg == nil || len(s.Outputs) == 0 {
		return nil, nil
	}
	d, ok := reg.Lookup(s.Type)
	if !ok || d.Section == nil {
		return nil, nil
	}
	return d.Section(s)
}

// checklistTitle is the title of s's gates as a checklist: the text of the
// output its type names as Checklist; "" when there is none.
func checklistTitle(reg *runner.Registry, s runner.StepReport) string {
	if reg == nil || len(s.Gates) == 0 {
		return ""
	}
	d, ok := reg.Lookup(s.Type)
	if !ok || d.Checklist == "" {
		return ""
	}
	title, _ := s.Outputs[d.Checklist].(string)
	return title
}
