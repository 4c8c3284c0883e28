package render

import (
	"html/template"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// severities, most severe first.
var severities = []string{"critical", "high", "medium", "low", "info"}

func severityRank(s string) int {
	for i, v := range severities {
		if v == s {
			return i
		}
	}
	return len(severities)
}

type tlsView struct {
	Facts    []outputRow // the negotiated connection and certificate at a glance
	Findings []finding
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

// tlsSection lists a check-tls step's findings, most severe first.
func tlsSection(s runner.StepReport) (*Section, error) {
	list, ok := s.Outputs["findings"].([]any)
	if !ok {
		return nil, nil
	}
	v := tlsView{}
	for _, f := range [][]string{{"version"}, {"cipher"}, {"cert", "days_left"}, {"chain", "verified"}, {"hostname", "matched"}, {"plaintext", "accepted"}} {
		if x, ok := lookup(s.Outputs, f...); ok {
			v.Facts = append(v.Facts, outputRow{Key: strings.Join(f, "."), Value: scalar(x)})
		}
	}
	n := map[string]int{}
	v.Findings, _ = parseFindings(list)
	for _, f := range v.Findings {
		n[f.Severity]++
	}
	for _, sev := range severities {
		v.Counts = append(v.Counts, sevCount{sev, n[sev]})
	}
	return execSection("check-tls", "TLS findings by severity", tlsTemplate, v)
}

// keyFields are the rotate-key outputs that describe what changed in the
// key store, in the order the table shows them.
var keyFields = []string{
	"rotated", "dry_run", "previous_key_id", "active_key_id", "active_key_age_days", "max_age",
	"destinations", "backups_found", "unchecked_destinations",
	"rewrapped", "rewrapped_in_place", "skipped", "failed", "failures", "still_on_retired_keys", "warnings",
}

type keyView struct {
	Rows   []outputRow
	Ledger []map[string]string
	Cols   []string
}

var keyTemplate = template.Must(template.New("keys").Funcs(sectionFuncs).Parse(`
<table><tbody>{{range .Rows}}<tr><th class="mono">{{.Key}}</th><td class="mono">{{.Value}}</td></tr>{{end}}</tbody></table>
{{if .Ledger}}<h3>Ledger entries appended</h3><table><thead><tr>{{range .Cols}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range $e := .Ledger}}<tr>{{range $.Cols}}<td class="mono">{{index $e .}}</td>{{end}}</tr>{{end}}
</tbody></table>{{end}}`))

// keySection shows what a rotate-key step changed: the keys made active and
// retired, the backups moved, and the ledger entries it appended.
func keySection(s runner.StepReport) (*Section, error) {
	v := keyView{}
	for _, k := range keyFields {
		if x, ok := s.Outputs[k]; ok {
			v.Rows = append(v.Rows, outputRow{Key: k, Value: clip(scalar(x))})
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
				row[k] = clip(scalar(x))
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
	return execSection("rotate-key", "Key store changes", keyTemplate, v)
}
