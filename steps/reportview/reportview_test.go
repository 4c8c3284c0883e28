package reportview

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// sections are the section functions of the step types, as their
// definitions name them.
var sections = map[string]func(runner.StepReport) (*runner.ReportSection, error){
	"measure": Measure, "assert-overhead": Overhead, "check-tls": TLS, "rotate-key": KeyChanges,
}

// sectionOutputs decodes a JSON literal as step outputs, as report.json
// holds them.
func sectionOutputs(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSections(t *testing.T) {
	cases := []struct {
		typ, outputs string
		want         []string // in the section body; nil: no section
	}{
		{"measure", `{"targets": {"plain": {"p95": 0.4, "histogram": [{"low": 0.1, "high": 0.2, "count": 5}, {"low": 0.2, "high": 0.5, "count": 5}]}, "tls": {"p95": 0.5}}}`,
			[]string{"<th class=\"num\">p95</th>", "<polyline", ">plain</text>"}},
		{"measure", `{"rows": 3}`, nil},
		{"assert-overhead", `{"max": 0.05, "p95": {"ratio": 0.031, "ci_low": 0.01, "ci_high": 0.049, "verdict": "pass"}, "p99": {"ratio": 0.08, "ci_low": 0.06, "ci_high": 0.1, "verdict": "fail"}}`,
			[]string{"&#43;3.10%", "&#43;1.00% … &#43;4.90%", "limit &#43;5.00%", `class="badge pass">pass`, `class="badge fail">fail`, "<circle"}},
		{"assert-overhead", `{"max": 0.05, "confidence": 0.979, "seconds": 41.2, "samples": 38214, "stopped": "decided", "advice": "The candidate is <within> the limit.",
			"p95": {"ratio": 0.031, "ci_low": 0.01, "ci_high": 0.049, "verdict": "pass", "baseline": 0.412, "candidate": 0.425},
			"queries": {"select_1": {"p95": {"ratio": 0.02, "ci_low": -0.01, "ci_high": 0.06, "verdict": "inconclusive"}}}}`,
			[]string{"97.9% confidence interval", "0.412 ms", "Measured for 41 s, 38214 samples per target; measuring stopped: decided.",
				"The candidate is &lt;within&gt; the limit.", "<td>select_1</td>", `<td class="muted">inconclusive</td>`}},
		{"assert-overhead", `{"verdict": "pass"}`, nil},
		{"check-tls", `{"version": "TLSv1.3", "cert": {"days_left": 42}, "findings": [{"id": "tls-old-versions", "severity": "medium", "title": "TLS 1.1 accepted", "evidence": "accepts TLS 1.1", "fix": "set ssl_min_protocol_version"}, {"id": "plaintext", "severity": "critical", "evidence": "<b>plaintext</b> accepted", "hint": "hostssl only"}]}`,
			[]string{"1 critical", "0 high", "1 medium", "&lt;b&gt;plaintext&lt;/b&gt;", "TLS 1.1 accepted", "set ssl_min_protocol_version", "cert.days_left <code>42</code>"}},
		{"check-tls", `{"findings": []}`, []string{"No findings."}},
		{"rotate-key", `{"rotated": true, "active_key_id": "k2", "previous_key_id": "k1", "ledger": [{"event": "created", "key_id": "k2"}]}`,
			[]string{"rotated", "k2", "Ledger entries appended", "<th>event</th>"}},
		{"rotate-key", `{"unrelated": 1}`, nil},
	}
	for _, c := range cases {
		f := sections[c.typ]
		if f == nil {
			t.Fatalf("no section for %s", c.typ)
		}
		sec, err := f(runner.StepReport{ID: "s", Type: c.typ, Outputs: sectionOutputs(t, c.outputs)})
		if err != nil {
			t.Fatalf("%s %s: %v", c.typ, c.outputs, err)
		}
		if c.want == nil {
			if sec != nil {
				t.Errorf("%s %s: got a section for outputs it does not know", c.typ, c.outputs)
			}
			continue
		}
		if sec == nil {
			t.Errorf("%s %s: no section", c.typ, c.outputs)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(sec.Body), w) {
				t.Errorf("%s: section lacks %q:\n%s", c.typ, w, sec.Body)
			}
		}
	}
}

func TestTLSFindingsSortedBySeverity(t *testing.T) {
	sec, err := TLS(runner.StepReport{Outputs: sectionOutputs(t,
		`{"findings": [{"id": "a", "severity": "low"}, {"id": "b", "severity": "critical"}, {"id": "c", "severity": "high"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	body := string(sec.Body)
	ib, ic, ia := strings.Index(body, "<code>b</code>"), strings.Index(body, "<code>c</code>"), strings.Index(body, "<code>a</code>")
	if !(ib < ic && ic < ia) {
		t.Errorf("findings not in severity order: critical %d, high %d, low %d", ib, ic, ia)
	}
}

func TestCDFPoints(t *testing.T) {
	pts := cdfPoints([][2]float64{{1, 1}, {2, 3}}, 2)
	if pts != "50,220 335.0,167.5 620.0,10.0" {
		t.Errorf("cdf points %q", pts)
	}
}
