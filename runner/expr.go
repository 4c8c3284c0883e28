package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Env is the environment expressions run in: params, env, steps, run, plan
// and, in a step with for_each, each.
// steps maps a step id to its outputs plus "status". env maps environment
// variable names to their values. A key missing from any of these maps
// evaluates to nil.
type Env map[string]any

// ctxName is the Env entry that holds the context of evaluations.
const ctxName = "$ctx"

// WithContext returns a copy of env whose evaluations stop when ctx ends.
func (env Env) WithContext(ctx context.Context) Env {
	out := make(Env, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	out[ctxName] = ctx
	return out
}

// compileEnv declares the names an expression may use, so that a misspelt
// top-level name is a load error.
var compileEnv = map[string]any{
	"params": map[string]any{},
	"env":    map[string]any{},
	"steps":  map[string]any{},
	"run":    map[string]any{},
	"plan":   map[string]any{},
	"each":   map[string]any{},
}

// userNames are the names of compileEnv a plan's expression may write.
var userNames = []string{"each", "env", "params", "plan", "run", "steps"}

// namesText lists the names for messages about an unknown one.
const namesText = "names are params, env, steps, run, plan and, under for_each, each"

// compileOptions are the options every expression is compiled with.
func compileOptions() []expr.Option {
	env := make(map[string]any, len(compileEnv)+1)
	for k, v := range compileEnv {
		env[k] = v
	}
	env[budgetName] = (*exprBudget)(nil)
	opts := append([]expr.Option{expr.Env(env)}, budgetOptions()...)
	return append(opts, eachOptions()...)
}

// Expr is a compiled bare expression (a when: or assert: entry, or the inside
// of one ${{ }}).
type Expr struct {
	src      string
	prog     *vm.Program
	refs     []StepRef
	paths    [][]string // every maximal name.field.field chain, e.g. [params db]
	operands []operand  // for Explain
}

type operand struct {
	src  string
	prog *vm.Program
}

// StepRef is a reference to steps.<Step>.<Output> in an expression. Output is
// empty when the expression uses steps.<Step> as a whole. Path is every name
// after the step id, Output first (steps.dump.each["shop"].bytes: each,
// shop, bytes); a field read inside a list builtin's predicate over
// steps.X.each ({.bytes > 0}) has "*" for the item's key.
type StepRef struct {
	Step   string
	Output string
	Path   []string
}

// CompileExpr compiles src. Errors are one line and do not repeat src.
func CompileExpr(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	prog, err := expr.Compile(src, compileOptions()...)
	if err != nil {
		err = exprError(err)
		if name, ok := strings.CutPrefix(err.Error(), "unknown name "); ok {
			name, _, _ = strings.Cut(name, " ")
			err = fmt.Errorf("unknown name %q%s (%s)", name, Suggest(name, userNames), namesText)
		}
		return nil, err
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, exprError(err)
	}
	if name := reservedName(tree.Node); name != "" {
		return nil, fmt.Errorf("unknown name %q (%s)", name, namesText)
	}
	if n := estimateOps(tree.Node); n > MaxExprOps {
		return nil, fmt.Errorf("expression loops over lists too long: it would run more than %d loop iterations (the limit); loop over smaller lists", MaxExprOps)
	}
	e := &Expr{src: src, prog: prog}
	collectPaths(tree.Node, &e.paths)
	for _, p := range append(e.paths, itemFieldPaths(tree.Node)...) {
		if len(p) >= 2 && p[0] == "steps" {
			r := StepRef{Step: p[1], Path: p[2:]}
			if len(p) >= 3 {
				r.Output = p[2]
			}
			e.refs = append(e.refs, r)
		}
	}
	var nodes []ast.Node
	collectOperands(tree.Node, &nodes)
	seen := map[string]bool{}
	for _, n := range nodes {
		s := n.String()
		if seen[s] {
			continue
		}
		seen[s] = true
		if p, err := expr.Compile(s, compileOptions()...); err == nil {
			e.operands = append(e.operands, operand{src: s, prog: p})
		}
	}
	return e, nil
}

// exprError shortens an expr-lang error to its first line with a column.
func exprError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Column > 0 {
			return fmt.Errorf("%s (column %d)", fe.Message, fe.Column+1)
		}
		return errors.New(fe.Message)
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return errors.New(msg)
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// StepRefs returns the steps.X.Y references of the expression.
func (e *Expr) StepRefs() []StepRef { return e.refs }

// Eval runs the expression. It stops, with an error, when the context
// env carries (Env.WithContext) ends, or when it runs more than
// MaxExprOps loop iterations or longer than MaxExprTime (ErrExprBudget).
func (e *Expr) Eval(env Env) (any, error) {
	return runProgram(e.prog, env)
}

// runProgram runs prog in env with a fresh budget.
func runProgram(prog *vm.Program, env Env) (any, error) {
	ctx, _ := env[ctxName].(context.Context)
	in := make(map[string]any, len(env)+1)
	for k, v := range env {
		in[k] = v
	}
	b := newExprBudget(ctx)
	in[budgetName] = b
	v, err := expr.Run(prog, in)
	if err != nil {
		var stop *stopError
		if errors.As(err, &stop) {
			return nil, stop
		}
		return nil, exprError(err)
	}
	return v, nil
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

// Explain returns the values of the expression's operands in env, e.g.
// `steps.upload.bytes = 0, env.MODE = "fast"`, for messages about a failed
// assertion. Literals are left out; an operand that cannot be evaluated shows
// its error. Secrets red knows are masked in each value before it is quoted,
// so that quoting cannot hide them from red.
func (e *Expr) Explain(env Env, red *Redactor) string {
	parts := make([]string, 0, len(e.operands))
	for _, o := range e.operands {
		v, err := runProgram(o.prog, env)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", o.src, err))
			continue
		}
		parts = append(parts, o.src+" = "+formatValue(red.redactValue(v), true))
	}
	return red.Redact(strings.Join(parts, ", "))
}

// formatValue renders v for messages (quoted strings) or interpolation.
func formatValue(v any, quote bool) string {
	switch x := v.(type) {
	case nil:
		if quote {
			return "nil"
		}
		return ""
	case string:
		if quote {
			return strconv.Quote(x)
		}
		return x
	case time.Duration:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// collectOperands gathers the maximal non-literal operands of n.
func collectOperands(n ast.Node, out *[]ast.Node) {
	switch x := n.(type) {
	case *ast.BinaryNode:
		collectOperands(x.Left, out)
		collectOperands(x.Right, out)
	case *ast.UnaryNode:
		collectOperands(x.Node, out)
	case *ast.ConditionalNode:
		collectOperands(x.Cond, out)
		collectOperands(x.Exp1, out)
		collectOperands(x.Exp2, out)
	case *ast.ArrayNode:
		for _, a := range x.Nodes {
			collectOperands(a, out)
		}
	case *ast.MemberNode, *ast.IdentifierNode, *ast.CallNode, *ast.BuiltinNode, *ast.ChainNode, *ast.SliceNode:
		*out = append(*out, n)
	}
}

// collectPaths gathers every maximal identifier.field chain in n.
func collectPaths(root ast.Node, out *[][]string) {
	inner := map[ast.Node]bool{}
	var all []ast.Node
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		switch m := (*n).(type) {
		case *ast.MemberNode:
			inner[m.Node] = true
			all = append(all, m)
		case *ast.IdentifierNode:
			all = append(all, m)
		}
	}))
	for _, n := range all {
		if inner[n] {
			continue
		}
		if p, _ := memberPath(n); len(p) > 0 {
			*out = append(*out, p)
		}
	}
}

// memberPath returns the name chain of n; complete is false once a
// non-constant property cut the chain.
func memberPath(n ast.Node) (path []string, complete bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return []string{x.Value}, true
	case *ast.MemberNode:
		p, ok := memberPath(x.Node)
		if !ok {
			return p, false
		}
		switch prop := x.Property.(type) {
		case *ast.StringNode:
			return append(p, prop.Value), true
		case *ast.IntegerNode:
			return append(p, strconv.Itoa(prop.Value)), true
		}
		return p, false
	}
	return nil, false
}

type visitFunc func(*ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }

// itemFieldPaths returns, for each list builtin over steps.X.each whose
// predicate reads fields of the item ({.bytes > 0}), the paths
// steps.X.each.*.FIELD, so that the loader checks FIELD against X's
// outputs. Predicates holding another predicate are left out: there, # may
// be either list's element.
func itemFieldPaths(root ast.Node) [][]string {
	var out [][]string
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		b, ok := (*n).(*ast.BuiltinNode)
		if !ok || !listBuiltins[b.Name] || len(b.Arguments) < 2 {
			return
		}
		base, complete := memberPath(b.Arguments[0])
		pred, isPred := b.Arguments[1].(*ast.PredicateNode)
		if !complete || !isPred || len(base) != 3 || base[0] != "steps" || base[2] != "each" {
			return
		}
		var fields []string
		nested := false
		body := pred.Node
		ast.Walk(&body, visitFunc(func(c *ast.Node) {
			switch m := (*c).(type) {
			case *ast.PredicateNode:
				nested = true
			case *ast.MemberNode:
				ptr, isPtr := m.Node.(*ast.PointerNode)
				prop, isStr := m.Property.(*ast.StringNode)
				if isPtr && ptr.Name == "" && isStr {
					fields = append(fields, prop.Value)
				}
			}
		}))
		if nested {
			return
		}
		for _, f := range fields {
			out = append(out, []string{"steps", base[1], "each", "*", f})
		}
	}))
	return out
}
