package runner

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bind builds the step's parameter struct for a run: a fresh value from
// Def.New with its default: tags applied, the with: mapping decoded into it
// after every ${{ }} is evaluated against env (except in fields tagged
// `expr:"defer"`, which keep it for StepContext.Expand), required fields
// checked, and Validate called when the struct is a Validator. Errors name
// the step and the field.
func (s *Step) Bind(env Env) (any, error) {
	if s.Def == nil {
		return nil, fmt.Errorf("step %q: step type %q is not resolved (load the plan with Load)", s.ID, s.Type)
	}
	if s.params != nil {
		return s.boundParams()
	}
	sv, err := paramStruct(s.Def)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", s.ID, err)
	}
	fields := paramFields(sv.Type())
	if err := applyDefaults(sv, fields); err != nil {
		return nil, fmt.Errorf("step %q: step type %q: %w", s.ID, s.Type, err)
	}
	set := map[string]bool{}
	if s.With != nil {
		for i := 0; i+1 < len(s.With.Content); i += 2 {
			k, v := s.With.Content[i], s.With.Content[i+1]
			f, ok := findField(fields, k.Value)
			if !ok {
				return nil, fmt.Errorf("step %q: with: field %q not recognised%s", s.ID, k.Value, Suggest(k.Value, fieldNames(fields)))
			}
			label := "with." + k.Value
			resolved, fromExpr, err := v, false, error(nil)
			if !f.Deferred {
				resolved, fromExpr, err = resolveNode(v, env, label)
			}
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", s.ID, err)
			}
			if resolved.Kind == yaml.ScalarNode && (keepsDefault(f, resolved) || (fromExpr && resolved.Value == "" && f.Type.Kind() == reflect.String)) {
				if f.Required {
					return nil, fmt.Errorf("step %q: %s: required, but the value is empty", s.ID, label)
				}
				if keepsDefault(f, resolved) {
					continue
				}
			}
			if !f.Deferred {
				if _, err := checkEnum(resolved, f.Type, f.Enum, label); err != nil {
					return nil, fmt.Errorf("step %q: %w", s.ID, err)
				}
			}
			if err := decodeField(sv, f, resolved); err != nil {
				if !(fromExpr && resolved.Kind == yaml.ScalarNode && resolved.Tag == "!!str") {
					return nil, fmt.Errorf("step %q: %s: %w", s.ID, label, err)
				}
				// A string from an expression (an env var, say) may still be a
				// valid number or boolean for this field.
				resolved.Tag, resolved.Style = "", 0
				if err2 := decodeField(sv, f, resolved); err2 != nil {
					return nil, fmt.Errorf("step %q: %s: %w", s.ID, label, err)
				}
			}
			if err := nestedDefaults(sv.FieldByIndex(f.Index), resolved); err != nil {
				return nil, fmt.Errorf("step %q: step type %q: %s: %w", s.ID, s.Type, label, err)
			}
			set[k.Value] = true
		}
	}
	for _, f := range fields {
		if f.Required && !set[f.Name] {
			return nil, fmt.Errorf("step %q: with: missing required field %q", s.ID, f.Name)
		}
	}
	params := sv.Addr().Interface()
	if v, ok := params.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("step %q: with: %w", s.ID, err)
		}
	}
	return params, nil
}

// resolveNode returns a copy of n with every ${{ }} evaluated; fromExpr
// reports whether n itself was an interpolated scalar.
func resolveNode(n *yaml.Node, env Env, label string) (out *yaml.Node, fromExpr bool, err error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !hasExpr(n.Value) {
			return n, false, nil
		}
		t, err := parseTemplate(n.Value)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", label, err)
		}
		v, err := t.eval(env)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", label, err)
		}
		out := &yaml.Node{}
		if err := out.Encode(v); err != nil {
			return nil, false, fmt.Errorf("%s: cannot use value of type %T: %v", label, v, err)
		}
		if out.Kind == yaml.ScalarNode && out.Tag == "!!str" {
			out.Style = yaml.DoubleQuotedStyle
		}
		out.Line, out.Column = n.Line, n.Column
		return out, true, nil
	case yaml.MappingNode, yaml.SequenceNode:
		cp := *n
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			sub := fmt.Sprintf("%s[%d]", label, i)
			if n.Kind == yaml.MappingNode {
				if i%2 == 0 {
					cp.Content[i] = c
					continue
				}
				sub = label + "." + n.Content[i-1].Value
			}
			r, _, err := resolveNode(c, env, sub)
			if err != nil {
				return nil, false, err
			}
			cp.Content[i] = r
		}
		return &cp, false, nil
	}
	return n, false, nil
}

// DecodeParams builds the parameter struct of step type d from with, the
// YAML text of a with: mapping ("" for none), as a step of a plan gets it:
// defaults from the default: tags, unknown fields, types and enums checked,
// Validate called. It is for Go code that sets a step's parameters without
// a plan, such as tests; with must hold no ${{ }}.
func DecodeParams(d *Definition, with string) (any, error) {
	st := &Step{ID: d.Type, Type: d.Type, Def: d}
	if strings.TrimSpace(with) != "" {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(with), &doc); err != nil {
			return nil, fmt.Errorf("step type %q: with: %v", d.Type, decodeErrorText(err))
		}
		if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			return nil, fmt.Errorf("step type %q: with: want a mapping", d.Type)
		}
		st.With = doc.Content[0]
		if hasExpr(with) {
			return nil, fmt.Errorf("step type %q: with: ${{ }} needs a plan", d.Type)
		}
	}
	return st.Bind(Env{})
}
