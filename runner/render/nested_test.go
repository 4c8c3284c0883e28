package render_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps"
)

// TestNestedReport runs a plan that calls another plan once and once per
// item of a list (real steps: a file copied through a checksum), then checks
// that report.json matches the schema and that every format shows the
// called plans' steps and gates under the calling step, by path.
func TestNestedReport(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, name+".in"), []byte("backup "+name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	child := `version: 1
params:
  name: {type: string, required: true}
  tag:  {type: string, default: each}
outputs:
  digest: steps.sum.digest
steps:
  read: {type: download, with: {from: "` + dir + `/${{ params.name }}.in", allow_unsigned: true}}
  sum: {type: checksum, input: read}
  write:
    type: upload
    input: sum
    with: {to: "file://` + dir + `/${{ params.name }}-${{ params.tag }}.out", allow_plaintext: true, unsigned: true}
    assert: [{that: steps.write.bytes > 3, message: empty copy}]
  gates:
    type: assert
    with: {message: copy checklist}
    assert: [{that: steps.sum.digest != "", message: has a digest}]
`
	parent := `version: 1
steps:
  copy:
    type: plan
    for_each: [a, b]
    with: {file: child.yaml, params: {name: "${{ each.value }}"}}
  once:
    type: plan
    with: {file: child.yaml, params: {name: a, tag: once}}
  check:
    type: assert
    assert: ['steps.once.outputs.digest == steps.copy.each[0].outputs.digest']
`
	for name, src := range map[string]string{"child.yaml": child, "plan.yaml": parent} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := runner.LoadFile(filepath.Join(dir, "plan.yaml"), steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{StateDir: state})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(runner.RunDir(state, rep.RunID), runner.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t), b); err != nil {
		t.Fatalf("report.json does not match the schema: %v", err)
	}
	rep, err = runner.ReadReport(filepath.Join(runner.RunDir(state, rep.RunID), runner.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[render.Format]string{}
	for _, f := range []render.Format{render.HTML, render.JUnit, render.Markdown} {
		var buf bytes.Buffer
		if err := render.Render(&buf, f, rep, steps.Builtin()); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = buf.String()
	}
	for f, wants := range map[render.Format][]string{
		render.Markdown: {`| ↳ copy\[0\] | plan |`, `| ↳ ↳ copy\[1\]/write | upload |`, "| ↳ once/sum | checksum |", "| ✅ pass | copy\\[1\\]/write | `steps.write.bytes > 3`"},
		render.JUnit:    {`name="copy[0]/sum (checksum)"`, `name="once/write: steps.write.bytes &gt; 3"`},
		render.HTML:     {`id="step-copy[1]/write" style="margin-left: 48px"`, `<h2>copy checklist</h2>`, `(step <code>once/gates</code>)`},
	} {
		for _, want := range wants {
			if !strings.Contains(out[f], want) {
				t.Errorf("%s lacks %q\n%s", f, want, out[f])
			}
		}
	}
	xmllint := testenv.LookPath(t, "xmllint", "apt-get install libxml2-utils; it validates the XML against the XSD")
	file := filepath.Join(dir, "junit.xml")
	if err := os.WriteFile(file, []byte(out[render.JUnit]), 0o600); err != nil {
		t.Fatal(err)
	}
	xsd := filepath.Join("..", "..", "testdata", "junit", "junit-10.xsd")
	if msg, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s", err, msg)
	}
}
