package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// The expression of the finding "expressions have no cost limit": a
// thousand million iterations over a list the load can see.
const nestedLoops = `let r=1..999; all(r,{all(r,{all(r,{true})})})`

func TestExprCostLimitAtLoad(t *testing.T) {
	for _, src := range []string{
		nestedLoops,
		"all(1..3000, {all(1..3000, {true})})",
		"count([1,2,3], {all(1..999999, {true})}) > 0",
		"let r=1..1001; map(r, {reduce(r, {#acc + #}, 0)})",
	} {
		if _, err := CompileExpr(src); err == nil || !strings.Contains(err.Error(), "more than 1000000 loop iterations") {
			t.Errorf("CompileExpr(%q) error = %v, want the loop limit", src, err)
		}
	}
	for _, src := range []string{"$tick($budget)", "$budget != nil"} {
		if _, err := CompileExpr(src); err == nil || !strings.Contains(err.Error(), "unknown name") {
			t.Errorf("CompileExpr(%q) error = %v, want unknown name", src, err)
		}
	}
	for _, src := range []string{
		"all(1..1000, {all(1..999, {true})})",
		"let r=1..999; all(r, {# > 0})",
		"all(steps.a.list, {all(steps.a.list, {true})})",
	} {
		if _, err := CompileExpr(src); err != nil {
			t.Errorf("CompileExpr(%q): %v", src, err)
		}
	}
}

// TestExprCostLimitAtRun runs loops whose size only the run knows: the
// budget stops them, fast.
func TestExprCostLimitAtRun(t *testing.T) {
	e, err := CompileExpr(`let r=1..params.n; all(r,{all(r,{all(r,{true})})})`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = e.Eval(Env{"params": map[string]any{"n": 3000}})
	if !errors.Is(err, ErrExprBudget) || !strings.Contains(err.Error(), "more than 1000000 loop iterations") {
		t.Fatalf("Eval error = %v, want ErrExprBudget", err)
	}
	t.Logf("stopped after %s", time.Since(start))
	// Explain, which evaluates the operands again, is bounded too.
	e, err = CompileExpr(`all(steps.a.list, {all(steps.a.list, {true})}) && len(steps.a.list) > 0`)
	if err != nil {
		t.Fatal(err)
	}
	long := make([]any, 3000)
	env := Env{"steps": map[string]any{"a": map[string]any{"list": long}}}
	got := e.Explain(env, nil)
	if !strings.Contains(got, "more than 1000000 loop iterations") {
		t.Errorf("Explain = %q", got)
	}
	// Small loops still give their answer.
	env = Env{"steps": map[string]any{"a": map[string]any{"list": long[:100]}}}
	// Small loops still give their answer.
	v, err := e.Eval(env)
	if err != nil || v != true {
		t.Errorf("small loops: %v, %v", v, err)
	}
}

// TestExprStopsWithContext cancels the context of an evaluation that stays
// within the iteration budget but is slow per iteration.
func TestExprStopsWithContext(t *testing.T) {
	e, err := CompileExpr(`let s = repeat("x", 400000); all(1..400000, {len(upper(s)) > 0})`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = e.Eval(Env{}.WithContext(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Eval error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("evaluation went on %s after the context ended", d)
	}
}

func TestEstimateOps(t *testing.T) {
	for src, want := range map[string]int64{
		"1 + 2":                            0,
		"all(1..10, {true})":               10,
		"all(1..10, {any(1..10, {true})})": 110,
		"let r=[1,2,3]; map(r, {# * 2})":   3,
		"filter(-5..4, {# > 0})":           10,
		"all(params.list, {true})":         1,
		nestedLoops:                        opsCap,
	} {
		e, err := parseForTest(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := estimateOps(e); got != want {
			t.Errorf("estimateOps(%q) = %d, want %d", src, got, want)
		}
	}
}

func parseForTest(src string) (ast.Node, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, err
	}
	return tree.Node, nil
}

// BenchmarkExprLoopBudget measures what counting loop iterations costs: the
// same gate over 1000 elements compiled with the budget (as sluice runs it)
// and without (the reference). Compare ns/op of the two.
func BenchmarkExprLoopBudget(b *testing.B) {
	const src = `all(steps.a.list, {# >= 0}) && count(steps.a.list, {# % 2 == 0}) == 500`
	list := make([]any, 1000)
	for i := range list {
		list[i] = i
	}
	env := Env{"steps": map[string]any{"a": map[string]any{"list": list}}}
	b.Run("budget", func(b *testing.B) {
		e, err := CompileExpr(src)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if v, err := e.Eval(env); err != nil || v != true {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		prog, err := expr.Compile(src, expr.Env(compileEnv))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if v, err := expr.Run(prog, map[string]any(env)); err != nil || v != true {
				b.Fatal(v, err)
			}
		}
	})
}
