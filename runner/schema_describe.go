package runner

import (
	"reflect"
)

// StepDoc documents a step type for `sluice steps TYPE`.
type StepDoc struct {
	Type    string       `json:"type"`
	Kind    Kind         `json:"kind"`
	Summary string       `json:"summary"`
	Params  []ParamDoc   `json:"params"`  // in declaration order
	Outputs []OutputSpec `json:"outputs"` // as declared, plus "status"
}

// ParamDoc documents one with: field of a step type. The fields of a
// nested mapping follow their parent, named by path: rewrap.mode, or
// targets[].name for the mappings of a list.
type ParamDoc struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`              // string, int, number, bool, duration, size, key, list of T, map of T, mapping, any
	Default  string   `json:"default,omitempty"` // YAML text of the default; empty when none
	Enum     []string `json:"enum,omitempty"`    // the values it may take, when they are a closed set
	Required bool     `json:"required,omitempty"`
	Doc      string   `json:"doc"`
}

// DescribeStepType documents d from its parameter struct and outputs.
func DescribeStepType(d *Definition) (StepDoc, error) {
	sv, err := paramStruct(d)
	if err != nil {
		return StepDoc{}, err
	}
	doc := StepDoc{Type: d.Type, Kind: d.Kind, Summary: d.Summary}
	doc.Params = describeFields(sv.Type(), "", 0)
	doc.Outputs = append(doc.Outputs, d.Outputs...)
	doc.Outputs = append(doc.Outputs, OutputSpec{Name: "status", Type: "string", Doc: "succeeded, failed or skipped"})
	return doc, nil
}

// describeFields documents the fields of struct t and of the mappings
// nested in them.
func describeFields(t reflect.Type, prefix string, depth int) []ParamDoc {
	var out []ParamDoc
	for _, f := range paramFields(t) {
		out = append(out, ParamDoc{
			Name:     prefix + f.Name,
			Type:     typeName(f.Type),
			Default:  f.Default,
			Enum:     f.Enum,
			Required: f.Required,
			Doc:      f.Doc,
		})
		if sub, path := nestedStruct(f.Type, prefix+f.Name); sub != nil && depth < 8 {
			out = append(out, describeFields(sub, path+".", depth+1)...)
		}
	}
	return out
}

// nestedStruct returns the struct type a field of type t holds, directly or
// as the elements of a list or map, and the path its fields are named
// under; nil when t holds no struct with fields of its own.
func nestedStruct(t reflect.Type, path string) (reflect.Type, string) {
	for {
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
			continue
		case reflect.Slice, reflect.Array:
			t, path = t.Elem(), path+"[]"
			continue
		case reflect.Map:
			t, path = t.Elem(), path+".*"
			continue
		}
		break
	}
	if t.Kind() != reflect.Struct || t == durationType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil, ""
	}
	return t, path
}

var paramTyperType = reflect.TypeOf((*ParamTyper)(nil)).Elem()

// typeName is the short name of a parameter type in the docs.
func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == sizeType:
		return "size"
	case t == keyNameType:
		return "key"
	case reflect.PointerTo(t).Implements(paramTyperType):
		return reflect.New(t).Interface().(ParamTyper).ParamType()
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return "any"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct:
		return "mapping"
	}
	return "any"
}
