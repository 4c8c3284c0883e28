package runner

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// previewNames are the names whose values are known before a run starts.
var previewNames = map[string]bool{"params": true, "env": true, "plan": true}

// PreviewEnv is the environment of what is known before a run: the
// params that have a value (given or default: see ResolveParams), the
// process environment and the plan. run and steps are absent: their values
// exist only once the run started; a param without a value waits too.
func PreviewEnv(p *Plan, params map[string]any, environ []string) Env {
	env := make(map[string]any, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	values := make(map[string]any, len(params))
	for k, v := range params {
		values[k] = v
	}
	return Env{"params": values, "env": env, "plan": map[string]any{"name": p.Name, "file": p.File}}
}

// PreviewCallParams is StaticCallParams without the params the call passes
// a value for that is not known before the run (a step's output, a
// for_each item): a preview must not show the called plan's defaults in
// their place.
func PreviewCallParams(s *Step, params map[string]any) map[string]any {
	out := StaticCallParams(s, params)
	pn := withValue(s.With, s.Def.Calls.Params)
	if pn == nil || pn.Kind != yaml.MappingNode {
		return out
	}
	types := map[string]ParamType{}
	for _, ps := range s.Calls.Params {
		types[ps.Name] = ps.Type
	}
	for i := 0; i+1 < len(pn.Content); i += 2 {
		k, v := pn.Content[i].Value, pn.Content[i+1]
		if _, known := staticValue(v, types[k], params, nil); !known {
			delete(out, k)
		}
	}
	return out
}

// Waiting is an expression a preview left as written, and what it waits
// for: "step dump", "the run" (run.id, run.date...), or why it could not
// be evaluated.
type Waiting struct {
	Expr  string
	Waits string
}

// waitsFor says what e needs that the preview environment env does not
// know; "" when it reads only params with a value, env, plan and literals.
func (e *Expr) waitsFor(env Env) string {
	set := map[string]bool{}
	values, _ := env["params"].(map[string]any)
	for _, p := range e.paths {
		switch {
		case p[0] == "params" && len(p) >= 2 && values[p[1]] == nil:
			set["a value of params."+p[1]] = true
		case previewNames[p[0]]:
		case p[0] == "steps" && len(p) >= 2:
			set["step "+p[1]] = true
		case p[0] == "run":
			set["the run"] = true
		case p[0] == "each":
			set["each item"] = true
		default:
			set[p[0]] = true
		}
	}
	return strings.Join(sortedKeys(set), ", ")
}

// PreviewExpr evaluates e in a preview environment when every name it
// reads is known there; known is false otherwise, with what it waits for.
func PreviewExpr(e *Expr, env Env) (v any, known bool, w Waiting) {
	if waits := e.waitsFor(env); waits != "" {
		return nil, false, Waiting{Expr: e.String(), Waits: waits}
	}
	v, err := e.Eval(env)
	if err != nil {
		return nil, false, Waiting{Expr: e.String(), Waits: "cannot be evaluated yet: " + err.Error()}
	}
	return v, true, Waiting{}
}

// PreviewWith returns a copy of the step's with: mapping in which every
// ${{ }} whose names are known in env (PreviewEnv) is replaced by its
// value, and the others are kept as written and listed with what they
// wait for. Fields the step expands itself (expr:"defer") are kept as
// written, their waiting expressions listed too. Nil when the step has no
// with:.
func (s *Step) PreviewWith(env Env) (*yaml.Node, []Waiting) {
	if s.With == nil {
		return nil, nil
	}
	var deferred map[string]bool
	if s.Def != nil {
		if sv, err := paramStruct(s.Def); err == nil {
			deferred = map[string]bool{}
			for _, f := range paramFields(sv.Type()) {
				deferred[f.Name] = f.Deferred
			}
		}
	}
	var waits []Waiting
	cp := *s.With
	cp.Content = make([]*yaml.Node, len(s.With.Content))
	for i := 0; i+1 < len(s.With.Content); i += 2 {
		k, v := s.With.Content[i], s.With.Content[i+1]
		cp.Content[i], cp.Content[i+1] = k, v
		if deferred[k.Value] {
			// The step expands these itself; only say what they wait for.
			var discard []Waiting
			previewNode(v, env, &discard)
			waits = append(waits, discard...)
			continue
		}
		cp.Content[i+1] = previewNode(v, env, &waits)
	}
	return &cp, waits
}

// previewNode is resolveNode for a preview: known expressions resolved,
// the others kept and added to waits.
func previewNode(n *yaml.Node, env Env, waits *[]Waiting) *yaml.Node {
	switch n.Kind {
	case yaml.ScalarNode:
		t, err := parseTemplate(n.Value)
		if err != nil || t == nil {
			return n
		}
		if e, ok := t.single(); ok {
			v, known, w := PreviewExpr(e, env)
			if !known {
				*waits = append(*waits, w)
				return n
			}
			out := &yaml.Node{}
			if err := out.Encode(v); err != nil {
				return n
			}
			return out
		}
		var b strings.Builder
		for _, p := range t.parts {
			if p.expr == nil {
				b.WriteString(p.lit)
				continue
			}
			v, known, w := PreviewExpr(p.expr, env)
			if !known {
				*waits = append(*waits, w)
				fmt.Fprintf(&b, "%s %s %s", openDelim, p.expr.String(), closeDelim)
				continue
			}
			b.WriteString(formatValue(v, false))
		}
		out := *n
		out.Value, out.Tag = b.String(), "!!str"
		return &out
	case yaml.MappingNode, yaml.SequenceNode:
		cp := *n
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				cp.Content[i] = c
				continue
			}
			cp.Content[i] = previewNode(c, env, waits)
		}
		return &cp
	}
	return n
}
