package runner

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStepRefs(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []StepRef
	}{
		{`steps.a.bytes > 0`, []StepRef{{"a", "bytes", []string{"bytes"}}}},
		{`steps.a.stats.p50 < steps["b"].x`, []StepRef{{"a", "stats", []string{"stats", "p50"}}, {"b", "x", []string{"x"}}}},
		{`len(steps.c) > 0`, []StepRef{{"c", "", []string{}}}},
		{`params.x == "y" && env.HOME != ""`, nil},
		{`steps.a.list[0].name == "x"`, []StepRef{{"a", "list", []string{"list", "0", "name"}}}},
		{`steps.d.each["shop"].bytes > 0`, []StepRef{{"d", "each", []string{"each", "shop", "bytes"}}}},
		{`all(steps.u.each, {.bytes > 0 && .status == "succeeded"})`, []StepRef{
			{"u", "each", []string{"each"}}, {"u", "each", []string{"each", "*", "bytes"}}, {"u", "each", []string{"each", "*", "status"}}}},
	} {
		e, err := CompileExpr(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := e.StepRefs(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: refs %v, want %v", tc.src, got, tc.want)
		}
	}
}

func testEnv() Env {
	return Env{
		"params": map[string]any{"b": 0, "d": 90 * time.Second, "name": "app", "n": 3},
		"env":    map[string]any{"MODE": "y"},
		"steps": map[string]any{
			"upload":  Outputs{"bytes": int64(0), "status": "succeeded"},
			"skipped": map[string]any{"status": "skipped"},
		},
		"run":  map[string]any{"id": "r1", "date": "2026-01-02"},
		"plan": map[string]any{"name": "p"},
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`steps.upload.bytes > 0`, `steps.upload.bytes = 0`},
		{`params.b > 1 && env.MODE == "x"`, `params.b = 0, env.MODE = "y"`},
		{`not (params.name in ["a", "b"]) || len(params.name) > 5`, `params.name = "app", len(params.name) = 3`},
		{`steps.skipped.bytes > 0`, `steps.skipped.bytes = nil`},
		{`params.d < duration("1m")`, `params.d = 1m30s, duration("1m") = 1m0s`},
		{`1 > 2`, ``},
	} {
		e, err := CompileExpr(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := e.Explain(testEnv(), nil); got != tc.want {
			t.Errorf("Explain(%s) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestEvalMissingOutputIsNil(t *testing.T) {
	e, err := CompileExpr(`steps.skipped.bytes == nil && env.UNSET == nil`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.EvalBool(testEnv())
	if err != nil || !ok {
		t.Fatalf("EvalBool = %v, %v", ok, err)
	}
}

func TestEvalBoolRejectsOtherTypes(t *testing.T) {
	e, err := CompileExpr(`params.n + 1`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.EvalBool(testEnv()); err == nil || !strings.Contains(err.Error(), "not a boolean") {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":              "empty expression",
		"a > > b":       "unexpected token",
		"parms.db":      `unknown name "parms" (did you mean "params"?)`,
		"steps.a.b +":   "unexpected token EOF",
		`"unterminated`: "literal not terminated",
	} {
		_, err := CompileExpr(src)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("CompileExpr(%q) = %v, want one line containing %q", src, err, want)
		}
	}
}

func TestInterpolate(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want any
	}{
		{"plain", "plain"},
		{"${{ params.n }}", 3},
		{" ${{ params.d }} ", " 1m30s "},
		{"${{ params.d }}", 90 * time.Second},
		{"x-${{ 1.50 }}-${{ 2.0 }}-${{ params.name }}", "x-1.5-2-app"},
		{"${{ run.date }}/${{ steps.skipped.bytes }}/end", "2026-01-02//end"},
		{"${{ [1, 2] }}", []any{1, 2}},
		{"${{ true }}", true},
	} {
		got, err := Interpolate(tc.src, testEnv())
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Interpolate(%q) = %#v, want %#v", tc.src, got, tc.want)
		}
	}
	if _, err := Interpolate("${{ params.n ", testEnv()); err == nil {
		t.Error("unclosed ${{ accepted")
	}
	if _, err := Interpolate("${{ params.name.x.y }}", testEnv()); err == nil {
		t.Error("fetching from a string should fail")
	}
}
