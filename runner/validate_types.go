package runner

import (
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
)

// checkExprTypes type-checks every expression of the plan against the
// types its names are declared with (params, step outputs, run, plan), so
// that `steps.dump.bytes > "abc"` or a when: that is not a boolean fails
// at load time instead of after the dump. A name whose type is not
// declared, or an output of a step type that declares none, is of any
// type: the check then accepts what the run may accept.
func (l *loader) checkExprTypes() {
	env := l.typeEnv()
	for _, si := range l.order {
		for _, u := range si.exprs {
			if err := u.e.checkTypes(env, u.kind == "when" || u.kind == "assert"); err != nil {
				l.el.add(u.node, si.step.ID, "%s: %s: %v%s", u.label, u.e.String(), err, l.declaredTypes(u.e))
			}
		}
	}
}

// declaredTypes says the declared types of the params and step outputs e
// reads, e.g. " (steps.dump.bytes is int)", for a type error's message.
func (l *loader) declaredTypes(e *Expr) string {
	seen := map[string]bool{}
	var parts []string
	for _, p := range e.paths {
		name, typ := strings.Join(p[:min(len(p), 3)], "."), ""
		switch {
		case p[0] == "params" && len(p) >= 2:
			name = "params." + p[1]
			for _, ps := range l.plan.Params {
				if ps.Name == p[1] {
					typ = string(ps.Type)
				}
			}
		case p[0] == "steps" && len(p) >= 3:
			if si, ok := l.steps[p[1]]; ok && si.step.Def != nil {
				for _, o := range si.step.Def.Outputs {
					if o.Name == p[2] {
						typ = o.Type
					}
				}
			}
		}
		if typ != "" && !seen[name] {
			seen[name] = true
			parts = append(parts, name+" is "+typ)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// checkTypes compiles e in the typed environment env; wantBool requires a
// boolean result (when:, assert:).
func (e *Expr) checkTypes(env types.Map, wantBool bool) error {
	opts := append([]expr.Option{expr.Env(env)}, budgetOptions()...)
	opts = append(opts, eachOptions()...)
	if wantBool {
		opts = append(opts, expr.AsBool())
	}
	if _, err := expr.Compile(e.src, opts...); err != nil {
		return exprError(err)
	}
	return nil
}

// typeEnv is the typed counterpart of compileEnv for this plan: every
// declared param and step output with its type; each map also admits
// other keys, of any type, since unknown names are reported by
// checkExprRefs with a suggestion.
func (l *loader) typeEnv() types.Map {
	params := types.Map{types.Extra: types.Any}
	for _, p := range l.plan.Params {
		params[p.Name] = paramValueType(p.Type)
	}
	steps := types.Map{types.Extra: types.Any}
	for _, si := range l.order {
		outs := types.Map{types.Extra: types.Any, "status": types.String}
		if def := si.step.Def; def != nil {
			for _, o := range def.Outputs {
				outs[o.Name] = outputValueType(o.Type)
			}
		}
		if si.step.ForEach != nil {
			// Other steps read the items (a list or, by key, a map).
			outs["each"] = types.Any
		}
		steps[si.step.ID] = outs
	}
	return types.Map{
		"params": params,
		"env":    types.Map{types.Extra: types.String},
		"steps":  steps,
		"run": types.Map{types.Extra: types.Any, "id": types.String, "date": types.String, "target": types.String,
			"started": types.TypeOf(time.Time{})},
		"plan":     types.Map{types.Extra: types.Any, "name": types.String, "file": types.String},
		"each":     types.Any,
		budgetName: types.TypeOf((*exprBudget)(nil)),
	}
}

// paramValueType is the Go type a param of type t holds at run time.
func paramValueType(t ParamType) types.Type {
	switch t {
	case ParamString:
		return types.String
	case ParamInt:
		return types.Int
	case ParamNumber:
		return types.Float64
	case ParamBool:
		return types.Bool
	case ParamDuration:
		return types.TypeOf(time.Duration(0))
	case ParamList:
		return types.TypeOf([]any{})
	}
	return types.Any
}

// outputValueType is the type of a step output declared as t (see
// OutputSpec); any for a type the runner does not know.
func outputValueType(t string) types.Type {
	switch t {
	case "int":
		return types.Int64
	case "number":
		return types.Float64
	case "string":
		return types.String
	case "bool":
		return types.Bool
	case "duration":
		return types.TypeOf(time.Duration(0))
	case "list":
		return types.TypeOf([]any{})
	case "map":
		return types.TypeOf(map[string]any{})
	}
	return types.Any
}
