package runner

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"gopkg.in/yaml.v3"
)

// staticItem is one item of a for_each.
type staticItem struct {
	key   any // a map's key (string) or a list's index (int)
	value any
	label string
}

// splitItems turns the value of a for_each into its items, in order: a
// list's elements by index, a map's entries by key. list reports which it
// was; nil has no items.
func splitItems(v any) (items []staticItem, list bool, err error) {
	rv := reflect.ValueOf(v)
	switch {
	case v == nil:
		return nil, true, nil
	case rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			items = append(items, staticItem{key: i, value: rv.Index(i).Interface(), label: fmt.Sprint(i)})
		}
		list = true
	case rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String:
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			items = append(items, staticItem{key: k.String(), value: rv.MapIndex(k).Interface(), label: k.String()})
		}
	default:
		return nil, false, fmt.Errorf("for_each is %s, not a list or a map", kindText(v))
	}
	if len(items) > MaxItems {
		return nil, false, fmt.Errorf("for_each has %d items, more than the %d one step may run", len(items), MaxItems)
	}
	return items, list, nil
}

// withDefaults returns values with each of p's params that has no value set
// to its default.
func withDefaults(p *Plan, values map[string]any) map[string]any {
	out := make(map[string]any, len(p.Params))
	for _, ps := range p.Params {
		if v, ok := values[ps.Name]; ok && v != nil {
			out[ps.Name] = v
		} else if ps.Default != nil {
			out[ps.Name] = ps.Default
		}
	}
	return out
}

// staticOnly reports whether e uses nothing but params (and each, when an
// item is known): then its value is known before the run.
func staticOnly(e *Expr, each bool) bool {
	for _, p := range e.paths {
		if p[0] != "params" && !(each && p[0] == "each") {
			return false
		}
	}
	return true
}

// staticItems returns the items of s's for_each when they are known before
// the run: written out, or an expression of params alone.
func staticItems(s *Step, params map[string]any) ([]staticItem, bool) {
	v := s.ForEach.Literal
	if e := s.ForEach.Expr; e != nil {
		if !staticOnly(e, false) {
			return nil, false
		}
		var err error
		if v, err = e.Eval(Env{"params": params, ctxName: context.Background()}); err != nil {
			return nil, false
		}
	}
	items, _, err := splitItems(v)
	return items, err == nil
}

// KnownItems returns the item keys (a map's keys, a list's indices) of the
// for_each of s, or of the source of its stream, when they are known before
// the run from params (values given, else defaults); ok is false when the
// step runs once or its items are known only when it starts.
func KnownItems(p *Plan, s *Step, params map[string]any) (keys []string, ok bool) {
	byID := make(map[string]*Step, len(p.Steps))
	for _, st := range p.Steps {
		byID[st.ID] = st
	}
	fan := planFan(byID, s)
	if fan == nil {
		return nil, false
	}
	items, ok := staticItems(fan, withDefaults(p, params))
	for _, it := range items {
		keys = append(keys, it.label)
	}
	return keys, ok
}

// StaticCallParams returns the values of the called plan's params that are
// known before the run when step s calls it with the caller's params
// (values given, defaults applied): those written out, those computed from
// the caller's params, the called plan's defaults for the rest.
func StaticCallParams(s *Step, params map[string]any) map[string]any {
	return staticCallParams(s, params, nil)
}

// staticCallParams is StaticCallParams for item it (nil: none).
func staticCallParams(s *Step, params map[string]any, it *staticItem) map[string]any {
	callee := s.Calls
	out := map[string]any{}
	pn := withValue(s.With, s.Def.Calls.Params)
	types := map[string]ParamType{}
	for _, ps := range callee.Params {
		types[ps.Name] = ps.Type
	}
	if pn != nil && pn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(pn.Content); i += 2 {
			k, v := pn.Content[i].Value, pn.Content[i+1]
			t, ok := types[k]
			if !ok {
				continue
			}
			if val, ok := staticValue(v, t, params, it); ok {
				out[k] = val
			}
		}
	}
	return withDefaults(callee, out)
}

// staticValue is the value of a passed param when known before the run.
func staticValue(n *yaml.Node, t ParamType, params map[string]any, it *staticItem) (any, bool) {
	if !nodeHasExpr(n) {
		v, err := paramFromNode(t, n)
		return v, err == nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, false
	}
	tmpl, err := parseTemplate(n.Value)
	if err != nil {
		return nil, false
	}
	for _, e := range tmpl.exprs() {
		if !staticOnly(e, it != nil) {
			return nil, false
		}
	}
	env := Env{"params": params, ctxName: context.Background()}
	if it != nil {
		env["each"] = map[string]any{"key": it.key, "value": it.value}
	}
	v, err := tmpl.eval(env)
	if err != nil || v == nil {
		return nil, false
	}
	v, err = convertParam(t, v)
	return v, err == nil
}
