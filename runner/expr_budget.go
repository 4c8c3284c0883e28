package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// Limits of one expression evaluation. Loops (all, any, map, filter,
// reduce, ...) are the only way an expression's work can outgrow its
// text; every loop iteration counts as one operation.
const (
	// MaxExprOps is how many loop iterations one evaluation may run.
	// An expression whose lists are known at load time (ranges of
	// constants, literal lists) and would run more is a load error.
	MaxExprOps = 1_000_000
	// MaxExprTime is how long one evaluation may run.
	MaxExprTime = 5 * time.Second
)

// ErrExprBudget is wrapped by the error of an evaluation stopped for running
// more than MaxExprOps iterations or longer than MaxExprTime.
var ErrExprBudget = errors.New("expression exceeded its budget")

// Names the patched program uses; reservedName keeps them out of a plan's
// expressions.
const (
	budgetName = "$budget"
	tickName   = "$tick"
)

// reservedName returns the first name of the budget machinery that tree
// uses, or "".
func reservedName(tree ast.Node) string {
	var found string
	ast.Walk(&tree, visitFunc(func(n *ast.Node) {
		if id, ok := (*n).(*ast.IdentifierNode); ok && found == "" && (id.Value == budgetName || id.Value == tickName || id.Value == itemsName) {
			found = id.Value
		}
	}))
	return found
}

// exprBudget is the state of one evaluation: it counts loop iterations and
// stops the evaluation when its context ends, its deadline passes or the
// count runs out.
type exprBudget struct {
	ctx      context.Context
	done     <-chan struct{}
	deadline time.Time
	ops      int
}

func newExprBudget(ctx context.Context) *exprBudget {
	if ctx == nil {
		ctx = context.Background()
	}
	return &exprBudget{ctx: ctx, done: ctx.Done(), deadline: time.Now().Add(MaxExprTime)}
}

// stopError is why the budget stopped an evaluation.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// tick counts one loop iteration. Its error stops the evaluation.
func (b *exprBudget) tick() error {
	b.ops++
	select {
	case <-b.done:
		return &stopError{fmt.Errorf("evaluation stopped: %w", context.Cause(b.ctx))}
	default:
	}
	if b.ops > MaxExprOps {
		return &stopError{fmt.Errorf("%w: it ran more than %d loop iterations; loop over smaller lists", ErrExprBudget, MaxExprOps)}
	}
	if b.ops%256 == 0 && time.Now().After(b.deadline) {
		return &stopError{fmt.Errorf("%w: it ran longer than %s; loop over smaller lists", ErrExprBudget, MaxExprTime)}
	}
	return nil
}

// budgetOptions are the compile options that make a program count its
// loop iterations against the exprBudget in its environment.
func budgetOptions() []expr.Option {
	return []expr.Option{
		expr.Function(tickName, func(args ...any) (any, error) {
			b, _ := args[0].(*exprBudget)
			if b == nil {
				return true, nil
			}
			return true, b.tick()
		}, new(func(*exprBudget) bool)),
		expr.Patch(tickPatcher{}),
	}
}

// tickPatcher makes every loop body call $tick($budget) first.
type tickPatcher struct{}

func (tickPatcher) Visit(node *ast.Node) {
	p, ok := (*node).(*ast.PredicateNode)
	if !ok {
		return
	}
	tick := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: tickName},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: budgetName}},
	}
	p.Node = &ast.SequenceNode{Nodes: []ast.Node{tick, p.Node}}
}

// estimateOps returns how many loop iterations n runs, counting the lists
// whose size is known at load time (ranges of constants, literal lists, let
// names bound to them); a list of unknown size counts as one element. The
// result is capped just above MaxExprOps.
func estimateOps(n ast.Node) int64 {
	return estimate(n, map[string]int64{})
}

const opsCap = MaxExprOps + 1

func estimate(n ast.Node, vars map[string]int64) int64 {
	switch x := n.(type) {
	case *ast.VariableDeclaratorNode:
		inner := make(map[string]int64, len(vars)+1)
		for k, v := range vars {
			inner[k] = v
		}
		inner[x.Name] = listSize(x.Value, vars)
		return capAdd(estimate(x.Value, vars), estimate(x.Expr, inner))
	case *ast.BuiltinNode:
		var total int64
		for i, a := range x.Arguments {
			p, ok := a.(*ast.PredicateNode)
			if !ok || i == 0 {
				total = capAdd(total, estimate(a, vars))
				continue
			}
			body := capAdd(1, estimate(p.Node, vars))
			total = capAdd(total, capMul(listSize(x.Arguments[0], vars), body))
		}
		return total
	}
	var total int64
	for _, c := range children(n) {
		total = capAdd(total, estimate(c, vars))
	}
	return total
}

// listSize returns the number of elements of list n when it is known at
// load time, else 1.
func listSize(n ast.Node, vars map[string]int64) int64 {
	switch x := n.(type) {
	case *ast.BinaryNode:
		if x.Operator == ".." {
			lo, ok1 := intConst(x.Left)
			hi, ok2 := intConst(x.Right)
			if ok1 && ok2 {
				return min(max(hi-lo+1, 0), opsCap)
			}
		}
	case *ast.ArrayNode:
		return int64(len(x.Nodes))
	case *ast.IdentifierNode:
		if size, ok := vars[x.Value]; ok {
			return size
		}
	}
	return 1
}

func intConst(n ast.Node) (int64, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return int64(x.Value), true
	case *ast.UnaryNode:
		if v, ok := intConst(x.Node); ok && x.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

// children returns the sub-expressions of n.
func children(n ast.Node) []ast.Node {
	switch x := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{x.Node}
	case *ast.BinaryNode:
		return []ast.Node{x.Left, x.Right}
	case *ast.ChainNode:
		return []ast.Node{x.Node}
	case *ast.MemberNode:
		return []ast.Node{x.Node, x.Property}
	case *ast.SliceNode:
		return []ast.Node{x.Node, x.From, x.To}
	case *ast.CallNode:
		return append([]ast.Node{x.Callee}, x.Arguments...)
	case *ast.PredicateNode:
		return []ast.Node{x.Node}
	case *ast.ConditionalNode:
		return []ast.Node{x.Cond, x.Exp1, x.Exp2}
	case *ast.SequenceNode:
		return x.Nodes
	case *ast.ArrayNode:
		return x.Nodes
	case *ast.MapNode:
		return x.Pairs
	case *ast.PairNode:
		return []ast.Node{x.Key, x.Value}
	}
	return nil
}

func capAdd(a, b int64) int64 { return min(a+b, opsCap) }

func capMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > opsCap/b {
		return opsCap
	}
	return min(a*b, opsCap)
}
