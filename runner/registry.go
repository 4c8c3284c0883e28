package runner

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Registry holds the step types a plan may use.
type Registry struct {
	defs map[string]*Definition
}

// NewRegistry returns a registry of defs. It panics on a duplicate or
// malformed definition: that is a programming error.
func NewRegistry(defs ...Definition) *Registry {
	r := &Registry{defs: make(map[string]*Definition, len(defs))}
	for i := range defs {
		d := defs[i]
		if d.Type == "" || d.New == nil {
			panic(fmt.Sprintf("runner: step definition %d has no type or constructor", i))
		}
		if d.Calls != nil && (d.Kind != KindAction || d.Calls.File == "" || d.Calls.Params == "") {
			panic(fmt.Sprintf("runner: step type %q calls plans but is not an action with File and Params fields", d.Type))
		}
		if _, dup := r.defs[d.Type]; dup {
			panic(fmt.Sprintf("runner: step type %q registered twice", d.Type))
		}
		if err := checkDefinition(&d); err != nil {
			panic(fmt.Sprintf("runner: step type %q: %v", d.Type, err))
		}
		r.defs[d.Type] = &d
	}
	return r
}

// checkDefinition checks what the parameter struct's tags promise: New
// sets no field (defaults come from tags alone), every default decodes and
// is one of its enum, enums are on strings, the retention tag is on a
// Duration, and lengths of time are Durations.
func checkDefinition(d *Definition) error {
	sv, err := paramStruct(d)
	if err != nil {
		return err
	}
	if !sv.IsZero() {
		return fmt.Errorf("the New constructor returns a %s with fields set: give defaults as default: tags, which the schema and the docs show", sv.Type())
	}
	return checkTags(sv.Type(), "", 0)
}

var stdDurationType = reflect.TypeOf(time.Duration(0))

func checkTags(t reflect.Type, prefix string, depth int) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || depth > 8 || t == durationType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	for _, f := range paramFields(t) {
		name := prefix + f.Name
		elem := f.Type
		for elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice || elem.Kind() == reflect.Array {
			elem = elem.Elem()
		}
		if f.Enum != nil && elem.Kind() != reflect.String {
			return fmt.Errorf("field %q: enum tag on a %s, not a string", name, f.Type)
		}
		if elem == stdDurationType {
			return fmt.Errorf("field %q: a time.Duration: use runner.Duration, which plans write as 30s, 14d or 6mo", name)
		}
		if f.Retention && f.Type != durationType {
			return fmt.Errorf("field %q: duration tag on a %s, not a runner.Duration", name, f.Type)
		}
		if f.HasDefault {
			v := reflect.New(f.Type)
			named := f
			named.Name = name
			if err := setDefault(v.Elem(), named); err != nil {
				return err
			}
			if f.Enum != nil && f.Type.Kind() == reflect.String && !slices.Contains(f.Enum, v.Elem().String()) {
				return fmt.Errorf("field %q: default %q is not one of its enum %s", name, f.Default, strings.Join(f.Enum, ", "))
			}
		}
		if err := checkTags(f.Type, name+".", depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Lookup returns the definition of a step type.
func (r *Registry) Lookup(typ string) (*Definition, bool) {
	d, ok := r.defs[typ]
	return d, ok
}

// Types returns the registered type names, sorted.
func (r *Registry) Types() []string {
	return slices.Sorted(maps.Keys(r.defs))
}

// CheckOutputs compares the outputs a step of type d returned with the
// outputs d declares: undeclared lists the returned names d does not
// declare, missing the declared names that are not Conditional and were not
// returned. Both are sorted.
func (d *Definition) CheckOutputs(out Outputs) (undeclared, missing []string) {
	declared := map[string]bool{}
	for _, o := range d.Outputs {
		declared[o.Name] = true
		if _, ok := out[o.Name]; !ok && !o.Conditional {
			missing = append(missing, o.Name)
		}
	}
	for name := range out {
		if !declared[name] {
			undeclared = append(undeclared, name)
		}
	}
	sort.Strings(undeclared)
	sort.Strings(missing)
	return undeclared, missing
}
