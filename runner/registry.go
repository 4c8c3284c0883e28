package runner

import (
	"fmt"
	"sort"
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
		r.defs[d.Type] = &d
	}
	return r
}

// Lookup returns the definition of a step type.
func (r *Registry) Lookup(typ string) (*Definition, bool) {
	d, ok := r.defs[typ]
	return d, ok
}

// Types returns the registered type names, sorted.
func (r *Registry) Types() []string {
	names := make([]string, 0, len(r.defs))
	for n := range r.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
