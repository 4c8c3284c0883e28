package runner

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Env is the environment expressions run in: params, env, steps, run, plan.
// steps maps a step id to its outputs plus "status".
type Env map[string]any

// compileEnv declares the names an expression may use, so that a misspelt
// top-level name is a load error.
var compileEnv = map[string]any{
	"params": map[string]any{},
	"env":    map[string]any{},
	"steps":  map[string]any{},
	"run":    map[string]any{},
	"plan":   map[string]any{},
}

// Expr is a compiled bare expression (a when: or assert: entry, or the inside
// of one ${{ }}).
type Expr struct {
	src  string
	prog *vm.Program
	refs []StepRef
}

// StepRef is a reference to steps.<Step>.<Output> in an expression. Output is
// empty when the expression uses steps.<Step> as a whole.
type StepRef struct {
	Step   string
	Output string
}

// CompileExpr compiles src.
func CompileExpr(src string) (*Expr, error) {
	prog, err := expr.Compile(src, expr.Env(compileEnv))
	if err != nil {
		return nil, err
	}
	e := &Expr{src: src, prog: prog}
	node := prog.Node()
	ast.Walk(&node, refCollector{&e.refs})
	return e, nil
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// StepRefs returns the steps.X.Y references of the expression.
func (e *Expr) StepRefs() []StepRef { return e.refs }

// Eval runs the expression.
func (e *Expr) Eval(env Env) (any, error) {
	return expr.Run(e.prog, map[string]any(env))
}

// EvalBool runs the expression and requires a boolean result.
func (e *Expr) EvalBool(env Env) (bool, error) {
	v, err := e.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q is %T, not a boolean", e.src, v)
	}
	return b, nil
}

type refCollector struct{ refs *[]StepRef }

func (c refCollector) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	// steps.X is a MemberNode whose Node is the identifier "steps".
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "steps" {
		return
	}
	name, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	*c.refs = append(*c.refs, StepRef{Step: name.Value})
}
