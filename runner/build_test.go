package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyEcho is an action that returns the key store path a step sees.
type keyEcho struct {
	Key KeyName `yaml:"key"`
}

func (p *keyEcho) Run(_ context.Context, sc *StepContext) (Outputs, error) {
	return Outputs{"path": sc.Keys[string(p.Key)].Path}, nil
}

func buildRegistry() *Registry {
	defs := []Definition{{Type: "key-echo", Kind: KindAction, New: func() any { return new(keyEcho) },
		Outputs: []OutputSpec{{Name: "path", Type: "string"}}}}
	for _, typ := range ltRegistry().Types() {
		d, _ := ltRegistry().Lookup(typ)
		defs = append(defs, *d)
	}
	return NewRegistry(defs...)
}

func mustParams[T any](t *testing.T, reg *Registry, typ string) T {
	t.Helper()
	p, err := reg.NewParams(typ)
	if err != nil {
		t.Fatal(err)
	}
	return p.(T)
}

// TestBuildNeverEvaluates runs a built plan whose parameters and key path
// hold ${{ }} text, as a value read from storage might: every step gets the
// text as written, and the environment's secret appears nowhere, neither
// in outputs nor in the report.
func TestBuildNeverEvaluates(t *testing.T) {
	const secret = "build-secret-from-the-environment"
	const text = "${{ env.SLUICE_BUILD_VALUE }}"
	reg := buildRegistry()
	src := mustParams[*ltSource](t, reg, "src")
	if src.Rows != 10 {
		t.Fatalf("NewParams did not apply the defaults: rows = %d", src.Rows)
	}
	src.Name = text
	store := mustParams[*ltStore](t, reg, "store")
	store.To, store.AllowPlaintext = text, true
	echo := mustParams[*keyEcho](t, reg, "key-echo")
	echo.Key = "k"
	p, err := Build("derived", "", map[string]KeyConfig{"k": {Store: "dir", Path: text}}, []BuiltStep{
		{ID: "src", Type: "src", Params: src},
		{ID: "store", Type: "store", Input: "src", Params: store},
		{ID: "echo", Type: "key-echo", Params: echo},
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rep, err := Run(context.Background(), p, RunOptions{StateDir: dir, Environ: []string{"SLUICE_BUILD_VALUE=" + secret}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Step("store").Outputs["location"]; got != text {
		t.Errorf("store.location = %v, want the text as written %q", got, text)
	}
	if got := rep.Step("echo").Outputs["path"]; got != text {
		t.Errorf("key path = %v, want the text as written %q", got, text)
	}
	data, err := os.ReadFile(filepath.Join(dir, "runs", rep.RunID, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) {
		t.Errorf("report.json holds the secret:\n%s", data)
	}
}

// TestBuildValidates checks that a built plan gets Load's checks: each
// mistake is reported with the step's id.
func TestBuildValidates(t *testing.T) {
	reg := buildRegistry()
	src := func() *ltSource { return mustParams[*ltSource](t, reg, "src") }
	store := func(allow bool) *ltStore {
		s := mustParams[*ltStore](t, reg, "store")
		s.To, s.AllowPlaintext = "out", allow
		return s
	}
	bad := mustParams[*ltTransform](t, reg, "xform")
	bad.Mode = "${{ 'fast' }}"
	seal := mustParams[*ltSeal](t, reg, "seal")
	seal.Key = "nope"
	tests := []struct {
		name  string
		steps []BuiltStep
		want  string
	}{
		{"unknown type", []BuiltStep{{ID: "a", Type: "nope", Params: src()}}, `step "a": unknown step type "nope"`},
		{"wrong params", []BuiltStep{{ID: "a", Type: "src", Params: store(true)}}, `step "a": parameters are *runner.ltStore, but step type "src" takes *runner.ltSource`},
		{"no params", []BuiltStep{{ID: "a", Type: "src"}}, `step "a": no parameters`},
		{"required", []BuiltStep{{ID: "a", Type: "src", Params: src()}, {ID: "b", Type: "store", Input: "a", Params: mustParams[*ltStore](t, reg, "store")}},
			`step "b": with: missing required field "to"`},
		{"validate sees the text", []BuiltStep{{ID: "a", Type: "src", Params: src()}, {ID: "x", Type: "xform", Input: "a", Params: bad}, {ID: "b", Type: "store", Input: "x", Params: store(true)}},
			`step "x": with: mode must be "fast" or "slow"`},
		{"unknown key", []BuiltStep{{ID: "a", Type: "src", Params: src()}, {ID: "s", Type: "seal", Input: "a", Params: seal}, {ID: "b", Type: "store", Input: "s", Params: store(false)}},
			`step "s": with.key: unknown key "nope"`},
		{"input", []BuiltStep{{ID: "b", Type: "store", Input: "a", Params: store(true)}}, `step "b": input: unknown step "a"`},
		{"fail-closed", []BuiltStep{{ID: "a", Type: "src", Params: src()}, {ID: "b", Type: "store", Input: "a", Params: store(false)}},
			`step "b": would persist plaintext from step "a"`},
		{"duplicate", []BuiltStep{{ID: "a", Type: "src", Params: src()}, {ID: "a", Type: "src", Params: src()}}, `step "a": step id used twice`},
		{"path as id", []BuiltStep{{ID: "../x", Type: "src", Params: src()}}, `step "../x": step id must start with a letter or _`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build("derived", "", nil, tt.steps, reg)
			if err == nil || !strings.Contains(err.Error(), "derived:1:1: "+tt.want) {
				t.Fatalf("Build: %v\nwant an error with %q", err, tt.want)
			}
		})
	}
}
