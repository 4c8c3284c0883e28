package render

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/fleet"
	"github.com/sluice-dev/sluice/runner/testenv"
)

// fleetFixture is a fleet of three targets: one succeeded (the fixture
// run, made successful), one failed its run (the fixture as it is, with a
// hostile error), one never ran.
func fleetFixture(t *testing.T) *fleet.Report {
	ok := fixture(t)
	ok.Status, ok.Error, ok.RunID = runner.StatusSucceeded, "", "f-shop"
	bad := fixture(t)
	bad.RunID, bad.Error = "f-crm", hostile
	return &fleet.Report{
		Version: fleet.ReportVersion, FleetID: "f", Plan: "nightly", PlanFile: "plans/nightly.yaml", Inventory: "fleet.yaml",
		Parallel: 2, Started: ok.Started, Finished: ok.Finished, DurationSeconds: 12, Status: runner.StatusFailed,
		Targets: []fleet.Target{
			{Name: "shop", Labels: map[string]string{"tier": "gold"}, RunID: "f-shop", Status: runner.StatusSucceeded, Outcome: fleet.OutcomeSucceeded,
				Attempts: 1, DurationSeconds: 10, StoredBytes: 4 << 20, GatesPassed: 2, Run: ok},
			{Name: "crm", RunID: "f-crm", Status: runner.StatusFailed, Outcome: fleet.OutcomeGateFailed, Error: hostile,
				Attempts: 2, DurationSeconds: 10, GatesPassed: 1, GatesFailed: 1, Run: bad},
			{Name: "lost", Status: runner.StatusFailed, Outcome: fleet.OutcomeNotRun, Error: "fleet.yaml:9:11: environment variable LOST_DSN is not set"},
		},
	}
}

func TestFleetHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFleetHTML(&b, fleetFixture(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<span class="verdict">FAIL</span>`,
		`nightly over 3 targets`,
		`1 not-run, 1 gate-failed, 1 succeeded · 4.0 MiB stored`,
		`<td><a href="#target-shop">shop</a></td><td><span class="badge st-succeeded">succeeded</span></td><td class="num">10.00s</td><td class="num">4.0 MiB</td><td>2 passed</td>`,
		`<td>1 passed, <strong>1 failed</strong></td>`,
		`<span class="label">tier=gold</span>`,
		`id="target-shop"`, `id="target-crm"`, `id="target-lost"`,
		`did not run`, `LOST_DSN is not set`,
		`<code>steps.write.bytes &gt; 1000</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("hostile text reached the page unescaped")
	}
	// Every link in the table reaches a section.
	for _, name := range []string{"shop", "crm", "lost"} {
		if !strings.Contains(page, `href="#target-`+name+`"`) || strings.Count(page, `id="target-`+name+`"`) != 1 {
			t.Errorf("target %s: link or section missing", name)
		}
	}
}

func TestFleetMarkdownAndJSON(t *testing.T) {
	var b bytes.Buffer
	if err := RenderFleet(&b, Markdown, fleetFixture(t)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## ❌ sluice: nightly over 3 targets — FAIL",
		"| shop | ✅ succeeded | 10.00s | 4.0 MiB | 2 passed | `f-shop` |",
		"| crm | ❌ gate-failed | 10.00s | 0 B | 1 passed, 1 failed | `f-crm` |",
		"| lost | ❌ not-run | 0s | 0 B | 0 passed | `` |",
		"**lost**: fleet.yaml:9:11: environment variable LOST\\_DSN is not set",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b.Reset()
	if err := RenderFleet(&b, JSON, fleetFixture(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"fleet_id": "f"`) || !strings.Contains(b.String(), `"outcome": "not-run"`) {
		t.Errorf("json:\n%s", b.String())
	}
}

func TestFleetJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := RenderFleet(&b, JUnit, fleetFixture(t)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 3 || doc.Suites[1].Name != "nightly/crm" || doc.Suites[2].Errors != 1 {
		t.Fatalf("suites: %+v", doc.Suites)
	}
	if c := doc.Suites[1].Cases[0].Classname; c != "nightly.crm.steps" {
		t.Errorf("classname %q, want nightly.crm.steps", c)
	}
	if sum := doc.Suites[0].Failures + doc.Suites[1].Failures; doc.Failures != sum || doc.Failures == 0 || doc.Errors != 1 {
		t.Errorf("totals: %d failures, %d errors", doc.Failures, doc.Errors)
	}
	xmllint := testenv.LookPath(t, "xmllint", "apt-get install libxml2-utils; it validates the XML against the XSD")
	file := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	xsd := filepath.Join("..", "..", "testdata", "junit", "junit-10.xsd")
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s", err, out)
	}
}
