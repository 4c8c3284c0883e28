package runner

import (
	"context"
	"strings"
	"testing"
)

// deferStep keeps Script's ${{ }} text (expr:"defer") and expands it itself
// at run time; it warns when Script holds an expression.
type deferStep struct {
	Script string `yaml:"script" expr:"defer"`
	Label  string `yaml:"label"`
}

var gotDefer [2]string

func (d *deferStep) Run(_ context.Context, sc *StepContext) (Outputs, error) {
	expanded, err := sc.Expand(d.Script)
	if err != nil {
		return nil, err
	}
	gotDefer = [2]string{d.Script, expanded}
	return Outputs{"label": d.Label}, nil
}

func (d *deferStep) Lint(exprFields map[string]bool) []Lint {
	if exprFields["script"] {
		return []Lint{{Field: "script", Msg: "script holds an expression"}}
	}
	return nil
}

func TestDeferredFieldsAndLints(t *testing.T) {
	reg := NewRegistry(Definition{Type: "deferred", Kind: KindAction, Summary: "Expands its script itself.",
		New: func() any { return new(deferStep) }, Outputs: []OutputSpec{{Name: "label", Type: "string"}}})
	src := `version: 1
params:
  n: {type: int, default: 3}
steps:
  first: {type: deferred, with: {script: "plain", label: "${{ params.n * 2 }}"}}
  second:
    type: deferred
    with:
      script: "n=${{ params.n }} label=${{ steps.first.label }}"
`
	p, err := Load("plan.yaml", []byte(src), reg)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || p.Warnings[0].Error() != `plan.yaml:9:15: step "second": warning: with.script: script holds an expression` {
		t.Errorf("warnings = %v", p.Warnings)
	}
	// The reference to steps.first orders second after first, though Bind
	// leaves the text alone.
	if _, err := Run(context.Background(), p, RunOptions{StateDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if gotDefer[0] != "n=${{ params.n }} label=${{ steps.first.label }}" || gotDefer[1] != "n=3 label=6" {
		t.Errorf("script bound as %q, expanded to %q", gotDefer[0], gotDefer[1])
	}

	bad := strings.Replace(src, "params.n }}", "params.n +}}", 1)
	if _, err := Load("plan.yaml", []byte(bad), reg); err == nil || !strings.Contains(err.Error(), "with.script") {
		t.Errorf("a deferred field's syntax error is not reported at load time: %v", err)
	}
}
