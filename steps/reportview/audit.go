package reportview

import (
	"html/template"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
)

type tlsView struct {
	Facts    []row // the negotiated connection and certificate at a glance
	Findings []render.Finding
	Counts   []sevCount
}

type sevCount struct {
	Severity string
	N        int
}

var tlsTemplate = template.Must(template.New("tls").Funcs(sectionFuncs).Parse(`
{{with .Facts}}<p>{{range .}}{{.Key}} <code>{{.Value}}</code> · {{end}}</p>{{end}}
<p>{{range .Counts}}<span class="badge sev-{{.Severity}}">{{.N}} {{.Severity}}</span> {{end}}</p>
{{if .Findings}}<table><thead><tr><th>severity</th><th>finding</th><th>evidence</th><th>how to fix</th></tr></thead><tbody>
{{range .Findings}}<tr><td><span class="badge sev-{{.Severity}}">{{.Severity}}</span></td><td>{{.Title}} <code>{{.ID}}</code></td><td>{{.Evidence}}</td><td>{{.Hint}}</td></tr>{{end}}
</tbody></table>{{else}}<p>No findings.</p>{{end}}`))

// TLS is the check-tls section: the negotiated connection and
// certificate at a glance, and the findings, most severe first.
func TLS(s runner.StepReport) (*runner.ReportSection, error) {
	list, ok := s.Outputs["findings"].([]any)
	if !ok {
		return nil, nil
	}
	v := tlsView{}
	for _, f := range [][]string{{"version"}, {"cipher"}, {"cert", "days_left"}, {"chain", "verified"}, {"hostname", "matched"}, {"plaintext", "accepted"}} {
		if x, ok := lookup(s.Outputs, f...); ok {
			v.Facts = append(v.Facts, row{Key: strings.Join(f, "."), Value: render.Scalar(x)})
		}
	}
	n := map[string]int{}
	v.Findings, _ = render.Findings(list)
	for _, f := range v.Findings {
		n[f.Severity]++
	}
	for _, sev := range render.Severities {
		v.Counts = append(v.Counts, sevCount{sev, n[sev]})
	}
	return execSection("TLS findings by severity", tlsTemplate, v)
}

// keyFields are the rotate-key outputs that describe what changed in the
// key store, in the order the table shows them.
var keyFields = []string{
	"rotated", "dry_run", "previous_key_id", "active_key_id", "active_key_age_days", "max_age",
	"destinations", "backups_found", "unchecked_destinations",
	"rewrapped", "rewrapped_in_place", "skipped", "failed", "failures", "still_on_retired_keys", "warnings",
}

type keyView struct {
	Rows   []row
	Ledger []map[string]string
	Cols   []string
}

var keyTemplate = template.Must(template.New("keys").Funcs(sectionFuncs).Parse(`
<table><tbody>{{range .Rows}}<tr><th class="mono">{{.Key}}</th><td class="mono">{{.Value}}</td></tr>{{end}}</tbody></table>
{{if .Ledger}}<h3>Ledger entries appended</h3><table><thead><tr>{{range .Cols}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range $e := .Ledger}}<tr>{{range $.Cols}}<td class="mono">{{index $e .}}</td>{{end}}</tr>{{end}}
</tbody></table>{{end}}`))

// KeyChanges is the rotate-key section: what the step changed: the keys made active and
// retired, the backups moved, and the ledger entries it appended.
func KeyChanges(s runner.StepReport) (*runner.ReportSection, error) {
	v := keyView{}
	for _, k := range keyFields {
		if x, ok := s.Outputs[k]; ok {
			v.Rows = append(v.Rows, row{Key: k, Value: render.Clip(render.Scalar(x))})
		}
	}
	if list, ok := s.Outputs["ledger"].([]any); ok {
		cols := map[string]bool{}
		for _, e := range list {
			m, ok := asMap(e)
			if !ok {
				continue
			}
			row := map[string]string{}
			for k, x := range m {
				row[k] = render.Clip(render.Scalar(x))
				cols[k] = true
			}
			v.Ledger = append(v.Ledger, row)
		}
		for c := range cols {
			v.Cols = append(v.Cols, c)
		}
		sort.Strings(v.Cols)
	}
	if len(v.Rows) == 0 && len(v.Ledger) == 0 {
		return nil, nil
	}
	return execSection("Key store changes", keyTemplate, v)
}
