package runner

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkWith validates a step's with: mapping against its type's parameter
// struct: field names, literal value types, required fields, key names and
// expression syntax. It leaves in si.static the struct decoded from the
// defaults and literal values.
func (l *loader) checkWith(si *stepInfo) {
	st, id := si.step, si.step.ID
	sv, err := paramStruct(st.Def)
	if err != nil {
		l.el.add(si.key, id, "%v", err)
		return
	}
	fields := paramFields(sv.Type())
	if err := applyDefaults(sv, fields); err != nil {
		l.el.add(si.key, id, "step type %q: %v", st.Type, err)
		return
	}
	at := si.key
	present := map[string]bool{}
	exprFields := map[string]bool{}
	fieldNodes := map[string]*yaml.Node{}
	anyExpr, failed := false, false
	if st.With != nil {
		at = st.With
		for i := 0; i+1 < len(st.With.Content); i += 2 {
			k, v := st.With.Content[i], st.With.Content[i+1]
			present[k.Value] = true
			f, ok := findField(fields, k.Value)
			if !ok {
				hint := Suggest(k.Value, fieldNames(fields))
				l.el.add(k, id, "with: field %q not recognised%s", k.Value, hint)
				// A misspelt required field is reported once, here.
				for _, f := range fields {
					if hint == fmt.Sprintf(" (did you mean %q?)", f.Name) {
						present[f.Name] = true
					}
				}
				failed = true
				continue
			}
			label := "with." + k.Value
			fieldNodes[f.Name] = v
			if !f.Deferred {
				if at, err := checkEnum(v, f.Type, f.Enum, label); err != nil {
					l.el.add(at, id, "%v", err)
					failed = true
					continue
				}
			}
			if l.compileWithExprs(si, v, label) {
				anyExpr, exprFields[f.Name] = true, true
				if holdsKeyName(f.Type) {
					st.KeysUnknown = true
				}
				continue
			}
			if keepsDefault(f, v) {
				if f.Required {
					l.el.add(v, id, "%s: required, got %s", label, NodeText(v))
					failed = true
				}
				continue
			}
			if err := decodeField(sv, f, v); err != nil {
				l.el.add(v, id, "%s: %v", label, err)
				failed = true
				continue
			}
			if err := nestedDefaults(sv.FieldByIndex(f.Index), v); err != nil {
				l.el.add(v, id, "step type %q: %s: %v", st.Type, label, err)
				failed = true
				continue
			}
			if !l.checkKeyNames(si, v, f.Type, label) {
				failed = true
			}
		}
	}
	for _, f := range fields {
		if f.Required && !present[f.Name] {
			l.el.add(at, id, "with: missing required field %q", f.Name)
			failed = true
		}
	}
	si.static = sv.Addr().Interface()
	if lt, ok := si.static.(Linter); ok && !failed {
		for _, w := range lt.Lint(exprFields) {
			n := fieldNodes[w.Field]
			if n == nil {
				n = at
			}
			l.plan.Warnings = append(l.plan.Warnings, &PlanError{Pos: l.el.pos(n), Step: id, Msg: "warning: with." + w.Field + ": " + w.Msg})
		}
	}
	if anyExpr || failed {
		return
	}
	if v, ok := si.static.(Validator); ok {
		if err := v.Validate(); err != nil {
			l.el.add(at, id, "with: %v", err)
		}
	}
}

// compileWithExprs compiles every ${{ }} under n and reports whether there
// was any.
func (l *loader) compileWithExprs(si *stepInfo, n *yaml.Node, label string) bool {
	found := false
	switch n.Kind {
	case yaml.ScalarNode:
		if !hasExpr(n.Value) {
			return false
		}
		t, err := parseTemplate(n.Value)
		if err != nil {
			l.el.add(n, si.step.ID, "%s: %v", label, err)
			return true
		}
		for _, e := range t.exprs() {
			si.exprs = append(si.exprs, exprUse{e: e, node: n, label: label, kind: "with"})
		}
		return true
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if l.compileWithExprs(si, n.Content[i+1], label+"."+n.Content[i].Value) {
				found = true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if l.compileWithExprs(si, c, fmt.Sprintf("%s[%d]", label, i)) {
				found = true
			}
		}
	}
	return found
}

// checkKeyNames checks that KeyName values (alone or in a list) name an
// entry of keys:.
func (l *loader) checkKeyNames(si *stepInfo, n *yaml.Node, t reflect.Type, label string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == keyNameType && n.Kind == yaml.ScalarNode:
		if n.Value == "" {
			return true
		}
		if _, ok := l.plan.Keys[n.Value]; ok {
			if !slices.Contains(si.step.Keys, n.Value) {
				si.step.Keys = append(si.step.Keys, n.Value)
				slices.Sort(si.step.Keys)
			}
		} else {
			names := sortedKeys(l.plan.Keys)
			hint := Suggest(n.Value, names)
			if hint == "" && len(names) == 0 {
				hint = " (declare it under keys:)"
			} else if hint == "" {
				hint = " (one of: " + strings.Join(names, ", ") + ")"
			}
			l.el.add(n, si.step.ID, "%s: unknown key %q%s", label, n.Value, hint)
			return false
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		ok := true
		for i, c := range n.Content {
			if !l.checkKeyNames(si, c, t.Elem(), fmt.Sprintf("%s[%d]", label, i)) {
				ok = false
			}
		}
		return ok
	}
	return true
}

// holdsKeyName reports whether a parameter of type t names key entries.
func holdsKeyName(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t == keyNameType
}
