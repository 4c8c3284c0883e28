package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// auditReport is a failed audit: a step (of a type render knows nothing
// of) failed on its findings, and a gate reading it failed.
func auditReport(t *testing.T) *runner.Report {
	t.Helper()
	out := sectionOutputs(t, `{"findings": [
		{"id": "tls11-accepted", "severity": "medium", "title": "accepts TLS 1.1", "evidence": "handshake pinned to TLS 1.1 succeeded", "fix": "set ssl_min_protocol_version = 'TLSv1.2'"},
		{"id": "plaintext-accepted", "severity": "high", "title": "admits connections without TLS", "evidence": "pg_hba host line", "fix": "use hostssl lines only"}
	], "accepts": {"tls11": true}}`)
	return &runner.Report{
		Version: runner.ReportVersion, RunID: "20261126T220000Z-abcd", Plan: "audit", Status: runner.StatusFailed,
		Steps: []runner.StepReport{
			{ID: "probe", Type: "some-audit", Kind: runner.KindAction, Status: runner.StatusFailed, Outputs: out,
				Error: "db:5432: 1 finding(s) at or above high: plaintext-accepted (high)"},
			{ID: "gates", Type: "assert", Kind: runner.KindAction, Status: runner.StatusFailed, Gates: []runner.GateResult{
				{Expr: "steps.probe.accepts.tls11 == false", Operands: "steps.probe.accepts.tls11 = true", Message: "old TLS"}}},
		},
	}
}

func TestFindingsWithFixes(t *testing.T) {
	r := auditReport(t)
	var md, xml bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(&xml, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### Findings of step `probe`",
		"| high | admits connections without TLS `plaintext-accepted` | pg\\_hba host line | use hostssl lines only |",
		"| medium | accepts TLS 1.1 `tls11-accepted` |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if i, j := strings.Index(md.String(), "plaintext-accepted`"), strings.Index(md.String(), "tls11-accepted`"); i > j {
		t.Errorf("markdown findings not most severe first:\n%s", md.String())
	}
	// Both failures, the step's and the gate's, carry the fixes.
	fix := "- plaintext-accepted (high): admits connections without TLS. Fix: use hostssl lines only"
	if n := strings.Count(xml.String(), fix); n != 2 {
		t.Errorf("junit has the fix %d times, want in the step's and the gate's failure:\n%s", n, xml.String())
	}
	if !strings.Contains(xml.String(), "- tls11-accepted (medium): accepts TLS 1.1. Fix: set ssl_min_protocol_version = &#39;TLSv1.2&#39;") {
		t.Errorf("junit lacks the medium finding's fix:\n%s", xml.String())
	}
}

func TestFindingsByShapeOnly(t *testing.T) {
	for _, c := range []struct {
		json string
		want int
	}{
		{`{"items": [{"id": "a", "fix": "do x"}]}`, 1},
		{`{"items": [{"id": "a", "fix": ""}, {"id": "b", "hint": "do y"}]}`, 2},
		{`{"items": [{"id": "a"}]}`, 0},               // no fix field: not findings
		{`{"items": [{"name": "a", "fix": "x"}]}`, 0}, // no id
		{`{"items": ["a", "b"]}`, 0},
		{`{"items": []}`, 0},
	} {
		got := stepFindings(runner.StepReport{Outputs: sectionOutputs(t, c.json)})
		if len(got) != c.want {
			t.Errorf("%s: %d findings, want %d", c.json, len(got), c.want)
		}
	}
}

// TestFindingsNested puts the audit inside a plan a step ran: its findings
// are named by path, and the nested gate's failure lists them.
func TestFindingsNested(t *testing.T) {
	inner := auditReport(t)
	r := &runner.Report{Version: runner.ReportVersion, RunID: "20261126T220000Z-ffff", Plan: "e20", Status: runner.StatusFailed,
		Steps: []runner.StepReport{{ID: "tls", Type: "plan", Kind: runner.KindAction, Status: runner.StatusFailed, Run: inner}}}
	var md, xml bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(&xml, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "### Findings of step `tls/probe`") {
		t.Errorf("markdown lacks the nested findings:\n%s", md.String())
	}
	if n := strings.Count(xml.String(), "Fix: use hostssl lines only"); n != 2 {
		t.Errorf("junit has the nested fix %d times, want 2:\n%s", n, xml.String())
	}
}
