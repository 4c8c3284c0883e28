package main

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

const stepsDoc = "../../docs/steps.md"

// TestStepsDocUpToDate fails when the committed docs/steps.md differs from
// what `sluice steps --format markdown` prints.
func TestStepsDocUpToDate(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := sluiceMain([]string{"steps", "--format", "markdown"}, &out, &errOut); code != 0 {
		t.Fatalf("sluice steps --format markdown: exit %d: %s", code, errOut.String())
	}
	got, err := os.ReadFile(stepsDoc)
	if err != nil {
		t.Fatalf("reading committed step reference: %v (run 'make docs')", err)
	}
	if !bytes.Equal(got, out.Bytes()) {
		t.Fatalf("docs/steps.md is stale: run 'make docs' and commit it\n%s", firstDiff(got, out.Bytes()))
	}
}

// TestStepsJSON checks that `sluice steps --format json` is the registry:
// every type, and for one type its parameters with types, defaults, enums
// and required flags, and its outputs.
func TestStepsJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := sluiceMain([]string{"steps", "--format", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Steps []runner.StepDoc `json:"steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	reg := steps.Builtin()
	var types []string
	for _, d := range got.Steps {
		types = append(types, d.Type)
	}
	if !slices.Equal(types, reg.Types()) {
		t.Errorf("types %v, want %v", types, reg.Types())
	}
	for _, d := range got.Steps {
		def, _ := reg.Lookup(d.Type)
		want, err := runner.DescribeStepType(def)
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != def.Kind || d.Summary != def.Summary || len(d.Params) != len(want.Params) || len(d.Outputs) != len(want.Outputs) {
			t.Errorf("%s: %+v\nwant %+v", d.Type, d, want)
		}
		for i, p := range d.Params {
			if w := want.Params[i]; p.Name != w.Name || p.Type != w.Type || p.Default != w.Default || p.Required != w.Required || !slices.Equal(p.Enum, w.Enum) || p.Doc != w.Doc {
				t.Errorf("%s: param %+v, want %+v", d.Type, p, w)
			}
		}
	}
	if code := sluiceMain([]string{"steps", "--format", "yaml"}, &out, &errOut); code != 2 {
		t.Errorf("--format yaml: exit %d, want 2", code)
	}
}
