package runner

import (
	"maps"
	"slices"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// eachItems is steps.ID.each of a step that ran for each entry of a map:
// its items by key, so that steps.dump.each["shop"].bytes reads one. The
// list builtins (all, filter, map, ...) take it too, as its items in key
// order: all(steps.upload.each, {.bytes > 0}). A step that ran for each
// element of a list has a plain list of items instead.
type eachItems map[string]any

// itemsName is the function the each patch inserts.
const itemsName = "$items"

// listBuiltins are the builtins whose first argument is a list.
var listBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"count": true, "sum": true, "find": true, "findIndex": true, "findLast": true,
	"findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
	"first": true, "last": true, "take": true, "reverse": true, "uniq": true,
	"sort": true, "mean": true, "median": true,
}

// eachOptions are the compile options that let the list builtins take an
// eachItems.
func eachOptions() []expr.Option {
	return []expr.Option{
		expr.Function(itemsName, func(args ...any) (any, error) {
			if m, ok := args[0].(eachItems); ok {
				return m.list(), nil
			}
			return args[0], nil
		}),
		expr.Patch(eachPatcher{}),
	}
}

// list returns the items in key order.
func (m eachItems) list() []any {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// eachPatcher wraps the list argument of every list builtin in $items().
type eachPatcher struct{}

func (eachPatcher) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BuiltinNode)
	if !ok || !listBuiltins[b.Name] || len(b.Arguments) == 0 {
		return
	}
	if c, ok := b.Arguments[0].(*ast.CallNode); ok {
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == itemsName {
			return // patched already: patchers run until nothing changes
		}
	}
	b.Arguments[0] = &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: itemsName},
		Arguments: []ast.Node{b.Arguments[0]},
	}
}
