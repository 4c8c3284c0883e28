package runner

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// paramField is one field of a step type's parameter struct, as written in
// a plan's with: mapping.
type paramField struct {
	Name       string
	Index      []int
	Type       reflect.Type
	Doc        string
	Default    string // YAML text
	HasDefault bool
	Required   bool
	Deferred   bool     // `expr:"defer"`: Bind leaves ${{ }} for the step to expand
	Enum       []string // `enum:"a,b"`: the values a string (or each string of a list) may take
	Retention  bool     // `duration:"retention"`: a Duration read by ParseRetention (m is a month)
}

var keyNameType = reflect.TypeOf(KeyName(""))

// paramStruct returns the struct value behind the pointer New returns.
func paramStruct(d *Definition) (reflect.Value, error) {
	p := reflect.ValueOf(d.New())
	if p.Kind() != reflect.Pointer || p.IsNil() || p.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("step type %q: New must return a pointer to a struct, not %T", d.Type, d.New())
	}
	return p.Elem(), nil
}

// paramFields lists the with: fields of struct type t in declaration order,
// following `yaml:",inline"` embedded structs.
func paramFields(t reflect.Type) []paramField {
	var out []paramField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for _, sub := range paramFields(f.Type) {
				sub.Index = append([]int{i}, sub.Index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		def, hasDef := f.Tag.Lookup("default")
		var enum []string
		if e, ok := f.Tag.Lookup("enum"); ok {
			for _, v := range strings.Split(e, ",") {
				enum = append(enum, strings.TrimSpace(v))
			}
		}
		out = append(out, paramField{
			Name:       name,
			Index:      []int{i},
			Type:       f.Type,
			Doc:        f.Tag.Get("doc"),
			Default:    def,
			HasDefault: hasDef,
			Required:   f.Tag.Get("required") == "true",
			Deferred:   f.Tag.Get("expr") == "defer",
			Enum:       enum,
			Retention:  f.Tag.Get("duration") == "retention",
		})
	}
	return out
}

func fieldNames(fields []paramField) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return names
}

func findField(fields []paramField, name string) (paramField, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return paramField{}, false
}

// applyDefaults sets every field with a default: tag.
func applyDefaults(v reflect.Value, fields []paramField) error {
	for _, f := range fields {
		if !f.HasDefault {
			continue
		}
		if err := setDefault(v.FieldByIndex(f.Index), f); err != nil {
			return err
		}
	}
	return nil
}

// setDefault sets fv, the value of field f, to f's default.
func setDefault(fv reflect.Value, f paramField) error {
	var n yaml.Node
	err := yaml.Unmarshal([]byte(f.Default), &n)
	if err == nil && len(n.Content) == 1 {
		err = decodeInto(fv, f, n.Content[0])
	}
	if err != nil {
		return fmt.Errorf("field %q: default tag %q: %v", f.Name, f.Default, decodeErrorText(err))
	}
	return nil
}

// decodeField decodes n into field f of v with a readable error.
func decodeField(v reflect.Value, f paramField, n *yaml.Node) error {
	return decodeInto(v.FieldByIndex(f.Index), f, n)
}

// decodeInto decodes n, written for field f, into fv.
func decodeInto(fv reflect.Value, f paramField, n *yaml.Node) error {
	if fractionIntoInt(n, f.Type) {
		return fmt.Errorf("want %s, got %s", goTypeText(f.Type), NodeText(n))
	}
	if f.Retention && f.Type == durationType && n.Kind == yaml.ScalarNode {
		d, err := ParseRetention(n.Value)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(d))
		return nil
	}
	nv := reflect.New(f.Type)
	if err := n.Decode(nv.Interface()); err != nil {
		var te *yaml.TypeError
		if asTypeError(err, &te) {
			if n.Kind == yaml.ScalarNode || len(te.Errors) == 0 || !kindFits(n, f.Type) {
				return fmt.Errorf("want %s, got %s", goTypeText(f.Type), NodeText(n))
			}
			return errors.New(typeErrorText(te.Errors[0]))
		}
		return err
	}
	fv.Set(nv.Elem())
	return nil
}

// fractionIntoInt reports whether n is a number with a fraction bound for
// an integer field: yaml.v3 would silently truncate 1.5 to 1.
func fractionIntoInt(n *yaml.Node, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!float" {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return false
	}
	var x float64
	return n.Decode(&x) != nil || x != math.Trunc(x)
}

var (
	unmarshalScalarRE = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into (.+)$")
	unmarshalNodeRE   = regexp.MustCompile(`cannot unmarshal !!(seq|map) into (.+)$`)
)

// typeErrorText rewrites yaml.v3's "line 5: cannot unmarshal !!str `x` into
// int" in the words the loader uses elsewhere.
func typeErrorText(s string) string {
	if m := unmarshalScalarRE.FindStringSubmatchIndex(s); m != nil {
		return s[:m[0]] + fmt.Sprintf("want %s, got %q", m0(s, m, 4), s[m[2]:m[3]])
	}
	if m := unmarshalNodeRE.FindStringSubmatchIndex(s); m != nil {
		got := "a list"
		if s[m[2]:m[3]] == "map" {
			got = "a mapping"
		}
		return s[:m[0]] + fmt.Sprintf("want %s, got %s", m0(s, m, 4), got)
	}
	return s
}

func m0(s string, m []int, i int) string { return s[m[i]:m[i+1]] }

func asTypeError(err error, te **yaml.TypeError) bool {
	t, ok := err.(*yaml.TypeError)
	if ok {
		*te = t
	}
	return ok
}

func decodeErrorText(err error) string {
	s, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "yaml: "), "\n")
	return s
}

// goTypeText describes a Go type for messages and the `sluice steps` help.
func goTypeText(t reflect.Type) string {
	if t == durationType {
		return "a duration (e.g. 30s, 14d)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return goTypeText(t.Elem())
	}
	return t.String()
}

// kindFits reports whether a list or mapping node can be decoded into t at
// all, so that a mismatch is reported as "want X, got a list".
func kindFits(n *yaml.Node, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface {
		return true
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return t.Kind() == reflect.Slice || t.Kind() == reflect.Array
	case yaml.MappingNode:
		return t.Kind() == reflect.Map || t.Kind() == reflect.Struct
	}
	return true
}
