package render

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/runner"
)

func utf8Valid(s string) bool { return utf8.ValidString(s) }

var testSectionTemplate = template.Must(template.New("t").Parse(`<p class="num">{{.}}</p>`))

// testRegistry stands for the step registry cmd/sluice passes: an assert
// type whose message heads a checklist, and a measure type with a section
// of its own that shows one output.
func testRegistry() *runner.Registry {
	return runner.NewRegistry(
		runner.Definition{Type: "assert", Kind: runner.KindAction, New: func() any { return new(struct{}) }, Checklist: "message"},
		runner.Definition{Type: "measure", Kind: runner.KindAction, New: func() any { return new(struct{}) },
			Section: func(s runner.StepReport) (*runner.ReportSection, error) {
				v, ok := s.Outputs["hostile"]
				if !ok {
					return nil, nil
				}
				var b bytes.Buffer
				err := testSectionTemplate.Execute(&b, v)
				return &runner.ReportSection{Title: "Latency <per> target", Body: template.HTML(b.String())}, err
			}},
	)
}

// TestHTMLSectionFromDefinition checks that a step's card shows the section
// its type's definition draws, found through the registry given, with its
// title escaped; without a registry the page shows outputs only.
func TestHTMLSectionFromDefinition(t *testing.T) {
	page := renderHTML(t, fixture(t))
	for _, want := range []string{
		`<div class="section" data-section="measure"><h3>Latency &lt;per&gt; target</h3><p class="num">&lt;script&gt;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, fixture(t), nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `class="section"`) {
		t.Error("a page rendered without a registry has a step section")
	}
}
