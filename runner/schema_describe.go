package runner

import (
	"reflect"
)

// StepDoc documents a step type for `sluice steps TYPE`.
type StepDoc struct {
	Type    string
	Kind    Kind
	Summary string
	Params  []ParamDoc   // in declaration order
	Outputs []OutputSpec // as declared, plus "status"
}

// ParamDoc documents one with: field of a step type.
type ParamDoc struct {
	Name     string
	Type     string // string, int, number, bool, duration, size, key, list of T, map of T, mapping, any
	Default  string // YAML text of the default; empty when none
	Required bool
	Doc      string
}

// DescribeStepType documents d from its parameter struct and outputs.
func DescribeStepType(d *Definition) (StepDoc, error) {
	sv, err := paramStruct(d)
	if err != nil {
		return StepDoc{}, err
	}
	doc := StepDoc{Type: d.Type, Kind: d.Kind, Summary: d.Summary}
	for _, f := range paramFields(sv.Type()) {
		doc.Params = append(doc.Params, ParamDoc{
			Name:     f.Name,
			Type:     typeName(f.Type),
			Default:  f.Default,
			Required: f.Required,
			Doc:      f.Doc,
		})
	}
	doc.Outputs = append(doc.Outputs, d.Outputs...)
	doc.Outputs = append(doc.Outputs, OutputSpec{Name: "status", Type: "string", Doc: "succeeded, failed or skipped"})
	return doc, nil
}

// typeName is the short name of a parameter type in the docs.
func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == sizeType:
		return "size"
	case t == keyNameType:
		return "key"
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
