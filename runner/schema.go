package runner

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Schema returns a JSON Schema (draft 2020-12) for plans using the step
// types of reg. Each step type's with: mapping is described from its
// parameter struct (type, doc, default, required, no other fields) and
// selected by the step's type with if/then; its outputs are listed under
// x-outputs. The output is deterministic.
func Schema(reg *Registry) ([]byte, error) {
	defs := map[string]any{
		"expression": map[string]any{"type": "string", "description": "an expr-lang expression (https://expr-lang.org), bare or as ${{ expr }}"},
		"interpolated": map[string]any{
			"type": "string", "pattern": `\$\{\{.*\}\}`,
			"description": "a value computed at run time with ${{ expr }}",
		},
		"duration": map[string]any{"type": "string", "pattern": durationPattern, "description": "a duration: a Go duration (90s, 15m, 2h), days and weeks (14d, 2w), calendar months and years (6mo, 1y), or a sum (1y6mo)"},
		"param": map[string]any{
			"type": "object", "additionalProperties": false,
			"properties": map[string]any{
				"type":        map[string]any{"enum": paramTypes},
				"default":     map[string]any{},
				"required":    map[string]any{"type": "boolean"},
				"secret":      map[string]any{"type": "boolean", "description": "never printed; redacted from logs and reports"},
				"description": map[string]any{"type": "string"},
			},
		},
		"key": map[string]any{
			"type": "object", "additionalProperties": map[string]any{"type": "string"},
			"properties": map[string]any{
				"store": map[string]any{"type": "string", "default": "dir"},
				"path":  map[string]any{"type": "string"},
			},
		},
	}
	types := reg.Types()
	var branches []any
	for _, t := range types {
		d, _ := reg.Lookup(t)
		with, err := withSchema(d)
		if err != nil {
			return nil, err
		}
		name := "with-" + t
		defs[name] = with
		branches = append(branches, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": t}}, "required": []string{"type"}},
			"then": map[string]any{"properties": map[string]any{"with": map[string]any{"$ref": "#/$defs/" + name}}},
		})
	}
	defs["step"] = map[string]any{
		"type": "object", "required": []string{"type"}, "additionalProperties": false,
		"properties": map[string]any{
			"type":  map[string]any{"enum": types},
			"with":  map[string]any{"type": "object"},
			"input": map[string]any{"type": "string", "description": "the step whose stream this step reads"},
			"needs": map[string]any{"oneOf": []any{
				map[string]any{"type": "string"},
				map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			}},
			"when": map[string]any{"$ref": "#/$defs/expression"},
			"assert": map[string]any{"type": "array", "items": map[string]any{"oneOf": []any{
				map[string]any{"$ref": "#/$defs/expression"},
				map[string]any{"type": "object", "required": []string{"that"}, "additionalProperties": false, "properties": map[string]any{
					"that": map[string]any{"$ref": "#/$defs/expression"}, "message": map[string]any{"type": "string"},
				}},
			}}},
			"retry":             retrySchema(),
			"timeout":           map[string]any{"$ref": "#/$defs/duration"},
			"continue_on_error": map[string]any{"type": "boolean"},
			"for_each": map[string]any{
				"description": "run the step once per element of a list or entry of a map, with ${{ each.key }} and ${{ each.value }}; on a stream's source, the whole stream runs per item",
				"oneOf": []any{
					map[string]any{"$ref": "#/$defs/expression"},
					map[string]any{"type": "array"},
					map[string]any{"type": "object"},
				},
			},
			"max_parallel": map[string]any{"type": "integer", "minimum": 1, "description": "items of for_each at once (default settings.concurrency)"},
			"fail_fast":    map[string]any{"type": "boolean", "description": "a failed item cancels the items still running (default: the others finish)"},
		},
		"allOf": branches,
	}
	root := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://github.com/sluice-dev/sluice/schemas/plan.schema.json",
		"title":                "sluice plan",
		"type":                 "object",
		"required":             []string{"version", "steps"},
		"additionalProperties": false,
		"patternProperties":    map[string]any{"^x-": map[string]any{"description": "extension field, ignored (e.g. YAML anchors for reuse)"}},
		"properties": map[string]any{
			"version":     map[string]any{"const": 1},
			"name":        map[string]any{"type": "string"},
			"description": map[string]any{"type": "string"},
			"params":      map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": "#/$defs/param"}},
			"keys":        map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": "#/$defs/key"}},
			"settings": map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
				"concurrency": map[string]any{"type": "integer", "minimum": 1, "default": 4},
				"timeout":     map[string]any{"$ref": "#/$defs/duration"},
				"retry":       retrySchema(),
			}},
			"outputs": map[string]any{
				"type":        "object",
				"description": "values the plan gives a plan step that calls it (steps.ID.outputs.NAME), evaluated when its run ends",
				"additionalProperties": map[string]any{"oneOf": []any{
					map[string]any{"$ref": "#/$defs/expression"},
					map[string]any{"type": "object", "required": []string{"value"}, "additionalProperties": false, "properties": map[string]any{
						"value": map[string]any{"$ref": "#/$defs/expression"}, "description": map[string]any{"type": "string"},
					}},
				}},
			},
			"steps": map[string]any{"type": "object", "propertyNames": map[string]any{"pattern": stepIDPattern}, "additionalProperties": map[string]any{"$ref": "#/$defs/step"}},
		},
		"$defs": defs,
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding schema: %w", err)
	}
	return append(out, '\n'), nil
}

// retrySchema is the schema of a retry: mapping (a step's, and the plan's
// settings.retry).
func retrySchema() map[string]any {
	return map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
		"attempts": map[string]any{"type": "integer", "minimum": 0},
		"backoff":  map[string]any{"$ref": "#/$defs/duration"},
	}}
}

const durationPattern = `^(0|([0-9]*\.?[0-9]+(ns|us|µs|μs|ms|s|m|h|d|w|mo|y))*)$`

// withSchema describes the with: mapping of one step type.
func withSchema(d *Definition) (map[string]any, error) {
	sv, err := paramStruct(d)
	if err != nil {
		return nil, err
	}
	fields := paramFields(sv.Type())
	props := map[string]any{}
	required := []string{}
	for _, f := range fields {
		s := map[string]any{"anyOf": []any{fieldSchema(f, 0), map[string]any{"$ref": "#/$defs/interpolated"}}}
		if f.Doc != "" {
			s["description"] = f.Doc
		}
		if f.HasDefault {
			s["default"] = defaultValue(f)
		}
		if f.Required {
			required = append(required, f.Name)
		}
		props[f.Name] = s
	}
	outs := make([]any, 0, len(d.Outputs))
	var names []string
	for _, o := range d.Outputs {
		outs = append(outs, map[string]any{"name": o.Name, "type": o.Type, "description": o.Doc})
		names = append(names, o.Name)
	}
	desc := fmt.Sprintf("%s (%s step)", strings.TrimSuffix(d.Summary, "."), d.Kind)
	if len(names) > 0 {
		desc += ". Outputs: " + strings.Join(names, ", ")
	}
	return map[string]any{
		"type": "object", "description": desc, "additionalProperties": false,
		"properties": props, "required": required,
		"x-kind": string(d.Kind), "x-outputs": outs,
	}, nil
}

var (
	sizeType        = reflect.TypeOf(Size(0))
	durationType    = reflect.TypeOf(Duration{})
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// fieldSchema describes a parameter field: its type, with its enum on the
// string or on each string of a list or map.
func fieldSchema(f paramField, depth int) map[string]any {
	s := typeSchema(f.Type, depth)
	if f.Enum == nil {
		return s
	}
	if t := f.Type; reflect.PointerTo(t).Implements(unmarshalerType) && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String {
		// One value or a list of them.
		one := map[string]any{"type": "string", "enum": f.Enum}
		return map[string]any{"oneOf": []any{one, map[string]any{"type": "array", "items": one}}}
	}
	at := s
	for at["type"] == "array" || at["type"] == "object" {
		key := "items"
		if at["type"] == "object" {
			key = "additionalProperties"
		}
		next, ok := at[key].(map[string]any)
		if !ok {
			break
		}
		at = next
	}
	if at["type"] == "string" {
		at["enum"] = f.Enum
	}
	return s
}

// defaultValue is a field's default tag as a JSON value; checkDefinition
// made sure it decodes.
func defaultValue(f paramField) any {
	var v any
	if yaml.Unmarshal([]byte(f.Default), &v) != nil {
		return f.Default
	}
	return v
}

// typeSchema describes a Go type as JSON Schema.
func typeSchema(t reflect.Type, depth int) map[string]any {
	switch {
	case t == durationType:
		return map[string]any{"$ref": "#/$defs/duration"}
	case t == sizeType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": `^[0-9.]+ *([kKmMgGtT](i?[bB])?|[bB])?$`},
		}}
	case t == keyNameType:
		return map[string]any{"type": "string", "description": "the name of an entry of keys:"}
	case depth > 8 || reflect.PointerTo(t).Implements(unmarshalerType):
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), depth+1)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), depth+1)}
	case reflect.Pointer:
		return typeSchema(t.Elem(), depth+1)
	case reflect.Struct:
		props := map[string]any{}
		for _, f := range paramFields(t) {
			// A field inside a with: value may be interpolated too.
			s := map[string]any{"anyOf": []any{fieldSchema(f, depth+1), map[string]any{"$ref": "#/$defs/interpolated"}}}
			if f.Doc != "" || f.HasDefault {
				s = map[string]any{"allOf": []any{s}}
				if f.Doc != "" {
					s["description"] = f.Doc
				}
				if f.HasDefault {
					s["default"] = defaultValue(f)
				}
			}
			props[f.Name] = s
		}
		return map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	}
	return map[string]any{}
}
