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
			valNode = nil
			for j := 0; j+1 < len(v.Content); j += 2 {
				fk, fv := v.Content[j], v.Content[j+1]
				switch fk.Value {
				case "value":
					valNode = fv
				case "description":
					l.str(fv, "", label+".description", &po.Description)
				default:
					l.el.add(fk, "", "%s: field %q not recognised%s", label, fk.Value, Suggest(fk.Value, []string{"value", "description"}))
				}
			}
			if valNode == nil {
				l.el.add(v, "", "%s: missing field \"value\" (the expression over the plan's steps)", label)
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
