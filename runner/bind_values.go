package runner

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkEnum checks n, written for a value of type t, against enum (which
// applies to n, or to each element of a list or map of strings) and against
// the enum: tags of the fields of nested structs. Scalars holding ${{ }} are
// left alone: Bind checks them once they are resolved, and so is an empty
// field, which keeps its default (see keepsDefault). It returns the node at
// fault with the error.
func checkEnum(n *yaml.Node, t reflect.Type, enum []string, label string) (*yaml.Node, error) {
	return checkEnumIn(n, t, enum, label, false)
}

func checkEnumIn(n *yaml.Node, t reflect.Type, enum []string, label string, elem bool) (*yaml.Node, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.String {
			// A type that takes one value or a list (it decodes itself).
			t, elem = t.Elem(), true
		}
		if enum == nil || n.Tag == "!!null" || hasExpr(n.Value) || t.Kind() != reflect.String || (n.Value == "" && !elem) {
			return nil, nil
		}
		if !slices.Contains(enum, n.Value) {
			return n, fmt.Errorf("%s: %q is not one of %s%s", label, n.Value, strings.Join(enum, ", "), Suggest(n.Value, enum))
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			if at, err := checkEnumIn(c, t.Elem(), enum, fmt.Sprintf("%s[%d]", label, i), true); err != nil {
				return at, err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if at, err := checkEnumIn(n.Content[i+1], t.Elem(), enum, label+"."+n.Content[i].Value, true); err != nil {
				return at, err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(unmarshalerType):
		fields := paramFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, ok := findField(fields, n.Content[i].Value); ok {
				if at, err := checkEnum(n.Content[i+1], f.Type, f.Enum, label+"."+f.Name); err != nil {
					return at, err
				}
			}
		}
	}
	return nil, nil
}

// keepsDefault reports whether n, written for field f, leaves f's default
// (or zero value) in place: a null, or an empty string in a field with a
// closed set of values that does not include it.
func keepsDefault(f paramField, n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	return n.Tag == "!!null" || (f.Enum != nil && n.Value == "" && !slices.Contains(f.Enum, ""))
}

// nestedDefaults applies the default: tags of the fields of structs nested
// in v (a field's value decoded from n) that n does not set: yaml.v3 fills a
// struct it allocates (behind a pointer, in a list or a map) with zero
// values only. An empty string in such a field with an enum keeps its
// default too.
func nestedDefaults(v reflect.Value, n *yaml.Node) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t == durationType || t == sizeType || reflect.PointerTo(t).Implements(unmarshalerType):
		return nil
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			if i < v.Len() {
				if err := nestedDefaults(v.Index(i), c); err != nil {
					return err
				}
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := reflect.New(t.Key()).Elem()
			if n.Content[i].Decode(k.Addr().Interface()) != nil {
				continue
			}
			e := v.MapIndex(k)
			if !e.IsValid() {
				continue
			}
			cp := reflect.New(t.Elem()).Elem()
			cp.Set(e)
			if err := nestedDefaults(cp, n.Content[i+1]); err != nil {
				return err
			}
			v.SetMapIndex(k, cp)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		set := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			set[n.Content[i].Value] = n.Content[i+1]
		}
		for _, f := range paramFields(t) {
			fv := v.FieldByIndex(f.Index)
			c, ok := set[f.Name]
			if ok && !keepsDefault(f, c) {
				if err := nestedDefaults(fv, c); err != nil {
					return err
				}
				continue
			}
			if !f.HasDefault {
				continue
			}
			if err := setDefault(fv, f); err != nil {
				return err
			}
		}
	}
	return nil
}
