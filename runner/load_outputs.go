package runner

import (
	"gopkg.in/yaml.v3"
)

// outputInfo is an entry of outputs: being loaded.
type outputInfo struct {
	out *PlanOutput
	use exprUse
}

// loadOutputs reads the plan's outputs: each name maps to an expression
// (bare or one ${{ }}), or to {value: EXPR, description: TEXT}.
func (l *loader) loadOutputs(n *yaml.Node) {
	if !l.mapping(n, "", "outputs") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		label := "outputs." + k.Value
		po := &PlanOutput{Name: k.Value, Pos: l.el.pos(k)}
		valNode := v
		if v.Kind == yaml.MappingNode {
			if valNode = l.exprEntry(v, "", label, "value", "the expression over the plan's steps", "description", &po.Description); valNode == nil {
				continue
			}
		}
		var src string
		if !l.str(valNode, "", label, &src) {
			continue
		}
		if po.Expr = l.compileBareExpr(valNode, "", label, src); po.Expr == nil {
			continue
		}
		l.plan.Outputs = append(l.plan.Outputs, po)
		l.outputs = append(l.outputs, &outputInfo{out: po, use: exprUse{e: po.Expr, node: valNode, label: label, kind: "output"}})
	}
}

// exprEntry reads the long form of an entry of step id (empty: of the
// plan) holding an expression: the mapping n with the expression under
// exprField (what exprDoc describes) and a text under textField, read into
// text ({that, message}, {value, description}). It returns the
// expression's node, or nil after reporting that it is missing.
func (l *loader) exprEntry(n *yaml.Node, id, label, exprField, exprDoc, textField string, text *string) *yaml.Node {
	var expr *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case exprField:
			expr = v
		case textField:
			l.str(v, id, label+"."+textField, text)
		default:
			l.el.add(k, id, "%s: field %q not recognised%s", label, k.Value, Suggest(k.Value, []string{exprField, textField}))
		}
	}
	if expr == nil {
		l.el.add(n, id, "%s: missing field %q (%s)", label, exprField, exprDoc)
	}
	return expr
}

// checkOutputs checks the names the outputs' expressions use. They are
// evaluated when the run ends, so they may read any step, but not each.
func (l *loader) checkOutputs() {
	uses := make([]exprUse, len(l.outputs))
	for i, o := range l.outputs {
		uses[i] = o.use
		l.checkEachUses(o.use, "", false)
	}
	l.checkRefs(nil, "", uses)
}
