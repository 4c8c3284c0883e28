package runner

import (
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"gopkg.in/yaml.v3"
)

// eachFields are the names each has.
var eachFields = []string{"key", "value"}

// loadForEach reads a step's for_each: an expression (bare or one ${{ }}),
// or a list or mapping written out.
func (l *loader) loadForEach(si *stepInfo, n *yaml.Node) {
	fe := &ForEach{}
	id := si.step.ID
	switch n.Kind {
	case yaml.SequenceNode, yaml.MappingNode:
		if nodeHasExpr(n) {
			l.el.add(n, id, "for_each: a list written out cannot hold ${{ }}: write the whole for_each as one expression")
			return
		}
		if n.Kind == yaml.SequenceNode {
			var list []any
			if err := n.Decode(&list); err != nil {
				l.el.add(n, id, "for_each: %v", decodeErrorText(err))
				return
			}
			fe.Literal, fe.Shape = nonNilList(list), "list"
		} else {
			v, err := mapFromNode(n)
			if err != nil {
				l.el.add(n, id, "for_each: %v", err)
				return
			}
			fe.Literal, fe.Shape = v, "map"
		}
	default:
		var src string
		if !l.str(n, id, "for_each", &src) {
			return
		}
		if fe.Expr = l.compileBare(si, n, "for_each", "for_each", src); fe.Expr == nil {
			return
		}
		fe.Shape = l.exprShape(n, id, fe.Expr)
	}
	si.step.ForEach = fe
}

// exprShape returns "list" or "map" when the shape of for_each expression e
// is known at load time: a list or map literal, or a list or map param.
// Another param type is an error.
func (l *loader) exprShape(n *yaml.Node, step string, e *Expr) string {
	tree, err := parser.Parse(e.src)
	if err != nil {
		return ""
	}
	switch tree.Node.(type) {
	case *ast.ArrayNode:
		return "list"
	case *ast.MapNode:
		return "map"
	}
	p, complete := memberPath(tree.Node)
	if !complete || len(p) != 2 || p[0] != "params" {
		return ""
	}
	for _, ps := range l.plan.Params {
		if ps.Name != p[1] {
			continue
		}
		switch ps.Type {
		case ParamList:
			return "list"
		case ParamMap:
			return "map"
		}
		l.el.add(n, step, "for_each: params.%s is %s, not a list or a map", ps.Name, paramTypeText(ps.Type))
	}
	return ""
}

func nonNilList(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// nodeHasExpr reports whether a scalar under n holds ${{.
func nodeHasExpr(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		return hasExpr(n.Value)
	}
	for _, c := range n.Content {
		if nodeHasExpr(c) {
			return true
		}
	}
	return false
}

// fanOf returns the step whose for_each runs si: si itself, or the source
// of si's stream when that has for_each; nil when si runs once.
func (l *loader) fanOf(si *stepInfo) *stepInfo {
	seen := map[string]bool{}
	for cur := si; cur != nil && !seen[cur.step.ID]; {
		seen[cur.step.ID] = true
		if cur.step.ForEach != nil {
			return cur
		}
		cur = l.steps[cur.step.Input]
	}
	return nil
}

// streamSource returns the first step of si's input chain.
func (l *loader) streamSource(si *stepInfo) *stepInfo {
	seen := map[string]bool{}
	for !seen[si.step.ID] {
		seen[si.step.ID] = true
		up, ok := l.steps[si.step.Input]
		if !ok {
			break
		}
		si = up
	}
	return si
}

// checkForEach rejects for_each on a step that reads a stream (the stream
// fans out from its source) and every use of each where no for_each
// defines it.
func (l *loader) checkForEach(si *stepInfo) {
	st := si.step
	if n := si.fields["for_each"]; n != nil && st.Input != "" {
		l.el.add(n, st.ID, "for_each: a step that reads a stream cannot run for each item on its own: put for_each on the stream's source %q, and the whole stream runs once per item", l.streamSource(si).step.ID)
	}
	fan := l.fanOf(si)
	if _, ok := si.fields["for_each"]; !ok {
		for _, f := range []string{"max_parallel", "fail_fast"} {
			switch n := si.fields[f]; {
			case n == nil:
			case fan != nil:
				l.el.add(n, st.ID, "%s: set it on the stream's source %q, whose for_each runs the whole stream per item", f, fan.step.ID)
			default:
				l.el.add(n, st.ID, "%s: only a step with for_each runs items (add for_each, or remove %s)", f, f)
			}
		}
	}
	fanned := fan != nil
	for _, u := range si.exprs {
		l.checkEachUses(u, st.ID, fanned && u.kind != "for_each")
	}
}

// checkEachUses reports each.X in u where each is not defined (allowed is
// false) or X is not one of its fields.
func (l *loader) checkEachUses(u exprUse, step string, allowed bool) {
	for _, p := range u.e.paths {
		if p[0] != "each" {
			continue
		}
		switch {
		case u.kind == "for_each":
			l.el.add(u.node, step, "for_each: cannot use each (for_each is what defines it)")
		case !allowed:
			l.el.add(u.node, step, "%s: each is only defined in a step with for_each (or in a stream whose source has one)", u.label)
		case len(p) >= 2 && p[1] != "key" && p[1] != "value":
			l.el.add(u.node, step, "%s: each has no field %q%s (it has key and value)", u.label, p[1], Suggest(p[1], eachFields))
		default:
			continue
		}
		return
	}
}

// checkItemRef checks a reference from outside its items to a step that
// runs for each item (fan is the step with the for_each): only status,
// each and the whole step may be read; each[KEY] must fit the shape.
func (l *loader) checkItemRef(u exprUse, step string, target, fan *stepInfo, r StepRef) {
	id := target.step.ID
	switch r.Output {
	case "", "status":
		return
	case "each":
	default:
		l.el.add(u.node, step, "%s: step %q runs for each item of %s: read one item as steps.%s.each[KEY].%s, or all of them as all(steps.%s.each, {.%s ...})",
			u.label, id, forEachOwner(fan, target), id, r.Output, id, r.Output)
		return
	}
	if len(r.Path) < 2 {
		return
	}
	key := r.Path[1]
	if fan.step.ForEach.Shape == "list" && key != "*" && !isDigits(key) {
		l.el.add(u.node, step, "%s: step %q runs for each element of a list: pick an item by its index (each[0]), not %q", u.label, id, key)
		return
	}
	l.checkOutputPath(u, step, target, r.Path[2:], "key")
}

func forEachOwner(fan, target *stepInfo) string {
	if fan == target {
		return "its for_each"
	}
	return "the for_each of its stream's source " + quote(fan.step.ID)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
