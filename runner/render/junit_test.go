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
	"github.com/sluice-dev/sluice/runner/testenv"
)

func renderJUnit(t *testing.T, r *runner.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestJUnitCases(t *testing.T) {
	var doc junitSuites
	if err := xml.Unmarshal(renderJUnit(t, fixture(t)), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suites[0]
	// 6 steps + 2 gates; the failed step and the failed gate are failures.
	if s.Tests != 8 || s.Failures != 2 || s.Skipped != 2 || s.Errors != 0 || doc.Failures != 2 {
		t.Errorf("tests=%d failures=%d skipped=%d errors=%d", s.Tests, s.Failures, s.Skipped, s.Errors)
	}
	byName := map[string]junitCase{}
	for _, c := range s.Cases {
		byName[c.Name] = c
	}
	gate := byName["write: steps.write.bytes > 1000"]
	if gate.Failure == nil || gate.Failure.Message != "steps.write.bytes > 1000: steps.write.bytes = 6 (too small)" || gate.Line != "22" {
		t.Errorf("failed gate case = %+v", gate)
	}
	if c := byName["write: steps.write.bytes > 0"]; c.Failure != nil {
		t.Error("passing gate reported as a failure")
	}
	if c := byName["notify (exec)"]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "cancelled") {
		t.Errorf("cancelled step = %+v", c)
	}
	if c := byName["bench (measure)"]; c.Classname != "nightly.steps" || c.Time != "6.000" {
		t.Errorf("step case = %+v", c)
	}
}

// A run that failed outside any step still fails in CI.
func TestJUnitRunErrorWithoutFailedStep(t *testing.T) {
	r := fixture(t)
	r.Steps = r.Steps[:2]
	r.Error = "setting up streams: no space left"
	var doc junitSuites
	if err := xml.Unmarshal(renderJUnit(t, r), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Suites[0].Errors != 1 {
		t.Errorf("errors = %d, want 1", doc.Suites[0].Errors)
	}
}

// TestJUnitValidatesAgainstXSD checks the output against the schema the
// Jenkins xUnit plugin uses (testdata/junit), with libxml2's xmllint.
func TestJUnitValidatesAgainstXSD(t *testing.T) {
	xmllint := testenv.LookPath(t, "xmllint", "apt-get install libxml2-utils; it validates the XML against the XSD")
	xsd := filepath.Join("..", "..", "testdata", "junit", "junit-10.xsd")
	ok := fixture(t)
	ok.Status, ok.Error = runner.StatusSucceeded, ""
	for name, r := range map[string]*runner.Report{"failed": fixture(t), "succeeded": ok} {
		file := filepath.Join(t.TempDir(), "junit.xml")
		if err := os.WriteFile(file, renderJUnit(t, r), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "validates") {
			t.Errorf("%s run: xmllint: %v\n%s", name, err, out)
		}
	}
	// The check can fail: a document without the required tests attribute.
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(`<testsuites><testsuite name="x"><testcase name="a"/></testsuite></testsuites>`), 0o600)
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, bad).CombinedOutput(); err == nil {
		t.Errorf("xmllint accepted an invalid document:\n%s", out)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, fixture(t)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## ❌ sluice: nightly — FAIL",
		"| write | upload | ❌ failed | 2.00s | 4.0 MiB |",
		"| ❌ fail | write | `steps.write.bytes > 1000` | steps.write.bytes = 6 | too small |",
		"| notify | exec | cancelled |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "<script>") {
		t.Error("markdown passes HTML through")
	}
	// Every table row has the same number of unescaped pipes as its header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| step") || strings.HasPrefix(line, "| gate") || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := len(strings.Split(strings.ReplaceAll(line, `\|`, ""), "|"))
		if cells != 8 && cells != 7 {
			t.Errorf("row with %d cells: %s", cells-2, line)
		}
	}
}
