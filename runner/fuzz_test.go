package runner

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load: it must return a plan or
// PlanErrors, never panic or hang.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"../testdata/valid/*.yaml"} {
		files, _ := filepath.Glob(dir)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(graphPlan))
	f.Add([]byte(bindPlan))
	f.Add([]byte("version: 1\nsteps: {a: {type: check, when: '${{ steps.a.ok }}', assert: [x]}}\n"))
	reg := ltRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data, reg)
		if err == nil {
			if p == nil {
				t.Fatal("nil plan without error")
			}
			if _, err := Graph(p, "mermaid"); err != nil {
				t.Fatal(err)
			}
			return
		}
		if _, ok := err.(PlanErrors); !ok {
			t.Fatalf("error %T is not PlanErrors: %v", err, err)
		}
	})
}

// FuzzInterpolate feeds arbitrary strings to Interpolate and Explain.
func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{"plain", "${{ params.n }}", "a ${{ params.d }} b ${{ 1.5 }}", "${{", "${{ }}", "${{ steps.skipped.bytes > 0 }}", "}}${{x}}"} {
		f.Add(s)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Interpolate(s, env)
		if e, err := CompileExpr(s); err == nil {
			_ = e.Explain(env, nil)
			_, _ = e.Eval(env)
		}
	})
}
