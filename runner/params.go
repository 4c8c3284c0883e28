package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var paramTypes = []string{"string", "int", "number", "bool", "duration", "list", "map"}

var paramSpecFields = []string{"type", "default", "required", "secret", "description"}

func (l *loader) loadParams(n *yaml.Node) {
	if !l.mapping(n, "", "params") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ps := &ParamSpec{Name: k.Value, Type: ParamString, Pos: l.el.pos(k)}
		l.plan.Params = append(l.plan.Params, ps)
		label := fmt.Sprintf("param %q", k.Value)
		if !l.mapping(v, "", label) {
			continue
		}
		var def *yaml.Node
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			switch fk.Value {
			case "type":
				var t string
				if l.str(fv, "", label+": type", &t) {
					ps.Type = ParamType(t)
					if !validParamType(t) {
						l.el.add(fv, "", "%s: unknown type %q%s (one of: %s)", label, t, Suggest(t, paramTypes), strings.Join(paramTypes, ", "))
					}
				}
			case "default":
				def = fv
			case "required":
				l.decode(fv, "", label+": required", &ps.Required)
			case "secret":
				l.decode(fv, "", label+": secret", &ps.Secret)
			case "description":
				l.str(fv, "", label+": description", &ps.Description)
			default:
				l.el.add(fk, "", "%s: field %q not recognised%s", label, fk.Value, Suggest(fk.Value, paramSpecFields))
			}
		}
		if def != nil && validParamType(string(ps.Type)) {
			val, err := paramFromNode(ps.Type, def)
			if err != nil {
				l.el.add(def, "", "%s: default %s: %v", label, NodeText(def), err)
			} else {
				ps.Default = val
			}
		}
	}
}

func validParamType(t string) bool {
	for _, p := range paramTypes {
		if p == t {
			return true
		}
	}
	return false
}

// paramFromNode converts a YAML value (a default or a params file entry) to
// the param type.
func paramFromNode(t ParamType, n *yaml.Node) (any, error) {
	if t == ParamMap {
		return mapFromNode(n)
	}
	if t == ParamList {
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("not a list")
		}
		var out []any
		if err := n.Decode(&out); err != nil {
			return nil, fmt.Errorf("not a list")
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return nil, fmt.Errorf("not %s", paramTypeText(t))
	}
	return paramFromString(t, n.Value)
}

// paramFromString converts the text of a flag or environment variable.
func paramFromString(t ParamType, s string) (any, error) {
	var (
		v   any
		err error
	)
	switch t {
	case ParamString:
		return s, nil
	case ParamInt:
		v, err = strconv.Atoi(strings.TrimSpace(s))
	case ParamNumber:
		v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
	case ParamBool:
		v, err = strconv.ParseBool(strings.TrimSpace(s))
	case ParamDuration:
		v, err = paramDuration(s)
	case ParamList:
		return listFromString(s)
	case ParamMap:
		return mapFromString(s)
	default:
		return nil, fmt.Errorf("unknown param type %q", t)
	}
	if err != nil {
		return nil, fmt.Errorf("not %s", paramTypeText(t))
	}
	return v, nil
}

// paramDuration reads a duration param: a Go duration, or any form a
// step's duration takes (14d, 6mo), as its length.
func paramDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := ParseDuration(s)
	if s == "" {
		return 0, errors.New("empty")
	}
	return d.Std(), err
}

// listFromString accepts a YAML/JSON flow list ("[a, b]") or comma-separated
// text ("a,b").
func listFromString(s string) (any, error) {
	trimmed := strings.TrimSpace(s)
	out := []any{}
	if strings.HasPrefix(trimmed, "[") {
		if err := yaml.Unmarshal([]byte(trimmed), &out); err != nil {
			return nil, fmt.Errorf("not a list (use a,b,c or [a, b, c])")
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	if trimmed == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(part))
	}
	return out, nil
}

func paramTypeText(t ParamType) string {
	switch t {
	case ParamInt:
		return "an int"
	case ParamNumber:
		return "a number"
	case ParamBool:
		return "a boolean (use true or false)"
	case ParamDuration:
		return "a duration (e.g. 90s, 2h)"
	case ParamList:
		return "a list"
	case ParamMap:
		return "a map"
	}
	return "a string"
}

// mapFromNode converts a YAML mapping with string keys.
func mapFromNode(n *yaml.Node) (any, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a map (want a mapping of names to values)")
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			return nil, fmt.Errorf("not a map: its keys must be names, not %s", NodeText(k))
		}
	}
	out := map[string]any{}
	if err := n.Decode(&out); err != nil {
		return nil, fmt.Errorf("not a map (want a mapping of names to values)")
	}
	return out, nil
}

// mapFromString accepts a YAML/JSON flow mapping ({shop: "...", crm: "..."}).
// One entry at a time comes from --param NAME.KEY=VALUE (see SetMapEntry).
func mapFromString(s string) (any, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a map (use {key: value, ...} or --param NAME.KEY=VALUE)")
	}
	return mapFromNode(n.Content[0])
}
