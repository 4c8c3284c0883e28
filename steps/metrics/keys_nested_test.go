package metrics

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

type callParams struct {
	File   string         `yaml:"file" required:"true"`
	Params map[string]any `yaml:"params"`
}

func (*callParams) Run(context.Context, *runner.StepContext) (runner.Outputs, error) { return nil, nil }

type noParams struct{}

func (*noParams) Run(context.Context, *runner.StepContext) (runner.Outputs, error) { return nil, nil }

// TestKeyStorePathsThroughCalls: the key stores of a plan a step ran (for
// each item) are read too, resolved with the params of each run.
func TestKeyStorePathsThroughCalls(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"parent.yaml": "version: 1\nkeys: {own: {path: /srv/own}}\nsteps:\n  many: {type: plan, for_each: [a, b], with: {file: child.yaml, params: {keys: \"/srv/${{ each.value }}\"}}}\n",
		"child.yaml":  "version: 1\nparams: {keys: {type: string, default: /srv/default}}\nkeys: {backup: {path: \"${{ params.keys }}\"}}\nsteps:\n  x: {type: noop}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg := runner.NewRegistry(
		runner.Definition{Type: "plan", Kind: runner.KindAction, New: func() any { return &callParams{} },
			Calls: &runner.CallSpec{File: "file", Params: "params", Outputs: "outputs"}},
		runner.Definition{Type: "noop", Kind: runner.KindAction, New: func() any { return &noParams{} }},
	)
	p, err := runner.LoadFile(filepath.Join(dir, "parent.yaml"), reg)
	if err != nil {
		t.Fatal(err)
	}
	rep := &runner.Report{RunID: "R1", Steps: []runner.StepReport{{ID: "many", Items: []runner.StepReport{
		{Key: "0", Run: &runner.Report{RunID: "R1", Params: map[string]any{"keys": "/srv/a"}}},
		{Key: "1", Run: &runner.Report{RunID: "R1", Params: map[string]any{"keys": "/srv/b"}}},
	}}}}
	got := KeyStorePaths(p, map[string]any{}, nil, rep)
	if want := []string{"/srv/a", "/srv/b", "/srv/own"}; !slices.Equal(got, want) {
		t.Errorf("KeyStorePaths = %v, want %v", got, want)
	}
}
