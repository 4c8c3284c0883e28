package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// An assert step with a message reads as a checklist: its title, each item
// with its result and evidence, and how many pass.
func TestHTMLChecklist(t *testing.T) {
	r := &runner.Report{Version: runner.ReportVersion, RunID: "r1", Plan: "audit", Status: runner.StatusFailed,
		Steps: []runner.StepReport{{
			ID: "checklist", Type: "assert", Kind: runner.KindAction, Status: runner.StatusFailed,
			Outputs: map[string]any{"message": "E20 <audit> checklist"},
			Gates: []runner.GateResult{
				{Expr: "steps.tls.accepts.tls10 == false", Message: "TLS 1.2 or newer only", Passed: true, Operands: "steps.tls.accepts.tls10 = false"},
				{Expr: "steps.key.age <= 180", Message: "key younger than 6 months", Passed: false, Operands: "steps.key.age = 200"},
			},
		}, {
			ID: "plain", Type: "assert", Kind: runner.KindAction, Status: runner.StatusSucceeded,
			Gates: []runner.GateResult{{Expr: "true", Passed: true}},
		}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r, testRegistry()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<section class="checklist" id="checklist-checklist"><h2>E20 &lt;audit&gt; checklist</h2>`,
		`1 of 2 items pass, <strong>1 fail</strong>`,
		`<td>key younger than 6 months</td><td><code>steps.key.age = 200</code></td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(page, `class="checklist"`) != 1 {
		t.Errorf("an assert step without a message became a checklist")
	}
}
