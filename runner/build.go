package runner

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// BuiltStep is one step of a plan made in code by Build rather than loaded
// from YAML.
type BuiltStep struct {
	ID    string
	Type  string
	Input string // the step whose stream this step reads; empty for a source or an action
	// Params is the step type's parameter struct, as Registry.NewParams
	// returns it, with its fields set. It is used as it is: nothing in it is
	// interpolated.
	Params any
}

// NewParams returns a fresh parameter struct of step type typ with its
// default: tags applied, for BuiltStep.Params.
func (r *Registry) NewParams(typ string) (any, error) {
	def, ok := r.Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("unknown step type %q%s", typ, suggestOrList(typ, r.Types()))
	}
	sv, err := paramStruct(def)
	if err != nil {
		return nil, err
	}
	if err := applyDefaults(sv, paramFields(sv.Type())); err != nil {
		return nil, fmt.Errorf("step type %q: %w", typ, err)
	}
	return sv.Addr().Interface(), nil
}

// Build returns a validated plan made of steps, in order, for callers that
// derive a pipeline from data (sluice restore from a manifest). Unlike Load,
// Build interprets no text: no parameter, key path or name is ever evaluated
// as an expression, so values read from an untrusted place cannot reach the
// expression language. The plan has no params, and every key store's fields
// are used as written. It checks what Load checks: step types, parameter
// types, required fields, Validate, inputs, dependencies and the
// fail-closed rule; errors name the step, with file as the plan's name.
func Build(file, description string, keys map[string]KeyConfig, steps []BuiltStep, reg *Registry) (*Plan, error) {
	if reg == nil {
		reg = NewRegistry()
	}
	l := &loader{el: &errList{file: file}, reg: reg, steps: map[string]*stepInfo{}}
	l.plan = &Plan{File: file, Version: 1, Name: file, Description: description,
		Keys: map[string]KeyConfig{}, Settings: Settings{Concurrency: 4}, literal: true}
	for name, kc := range keys {
		kc.Name = name
		l.plan.Keys[name] = kc
	}
	for _, bs := range steps {
		if bs.ID == "" {
			l.el.add(nil, "", "step id must not be empty")
			continue
		}
		if !stepIDRE.MatchString(bs.ID) {
			l.el.add(nil, bs.ID, badStepID)
			continue
		}
		if _, dup := l.steps[bs.ID]; dup {
			l.el.add(nil, bs.ID, "step id used twice")
			continue
		}
		if bs.Params == nil {
			l.el.add(nil, bs.ID, "no parameters (start from Registry.NewParams)")
			continue
		}
		st := &Step{ID: bs.ID, Type: bs.Type, Input: bs.Input, Pos: Pos{File: file, Line: 1, Col: 1}, params: bs.Params}
		si := &stepInfo{step: st, fields: map[string]*yaml.Node{}}
		l.steps[st.ID] = si
		l.order = append(l.order, si)
		l.plan.Steps = append(l.plan.Steps, st)
	}
	if len(l.order) == 0 {
		l.el.add(nil, "", "plan has no steps")
	}
	l.validate()
	if err := l.el.result(); err != nil {
		return nil, err
	}
	return l.plan, nil
}

// checkParams checks a built step's parameter struct: its type, its
// required fields and Validate. It stands in for checkWith.
func (l *loader) checkParams(si *stepInfo) {
	st := si.step
	want := reflect.TypeOf(st.Def.New())
	if got := reflect.TypeOf(st.params); got != want {
		l.el.add(nil, st.ID, "parameters are %v, but step type %q takes %v", got, st.Type, want)
		return
	}
	sv := reflect.ValueOf(st.params).Elem()
	for _, f := range paramFields(sv.Type()) {
		if f.Required && sv.FieldByIndex(f.Index).IsZero() {
			l.el.add(nil, st.ID, "with: missing required field %q", f.Name)
			return
		}
	}
	for _, f := range paramFields(sv.Type()) {
		if f.Type != keyNameType {
			continue
		}
		name := sv.FieldByIndex(f.Index).String()
		if _, ok := l.plan.Keys[name]; name != "" && !ok {
			l.el.add(nil, st.ID, "with.%s: unknown key %q%s", f.Name, name, suggestOrList(name, sortedKeys(l.plan.Keys)))
			return
		}
	}
	si.static = st.params
	if v, ok := st.params.(Validator); ok {
		if err := v.Validate(); err != nil {
			l.el.add(nil, st.ID, "with: %v", err)
		}
	}
}

// boundParams returns a copy of a built step's parameters, so that one
// attempt of a step cannot change what the next one gets.
func (s *Step) boundParams() (any, error) {
	v := reflect.ValueOf(s.params)
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	params := cp.Interface()
	if val, ok := params.(Validator); ok {
		if err := val.Validate(); err != nil {
			return nil, fmt.Errorf("step %q: with: %w", s.ID, err)
		}
	}
	return params, nil
}
