package runner

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a plan file.
type Pos struct {
	File string
	Line int
	Col  int
}

// Plan is a loaded and validated plan.
type Plan struct {
	File        string
	Version     int
	Name        string // defaults to the file name without extension
	Description string
	Params      []*ParamSpec // in file order
	Keys        map[string]KeyConfig
	Settings    Settings
	Steps       []*Step // in file order
	// Outputs are the plan's declared outputs (outputs:), evaluated when
	// its run ends; a step that calls the plan sees them.
	Outputs []*PlanOutput
	// Warnings are what the loader found worth a second look in a valid
	// plan, in compiler form with "warning: " before the message.
	Warnings PlanErrors

	literal bool // made by Build: key fields are used as written
}

// Settings are plan-wide run settings.
type Settings struct {
	Concurrency int           // default 4
	Timeout     time.Duration // 0: none
	// Retry is how often one target's whole run is attempted in a fleet
	// (sluice run --inventory, and the retries of exported Argo and
	// Kubernetes manifests); a plan run without an inventory runs once.
	Retry Retry
}

// ParamType is the type of a plan parameter.
type ParamType string

// Parameter types.
const (
	ParamString   ParamType = "string"
	ParamInt      ParamType = "int"
	ParamNumber   ParamType = "number"
	ParamBool     ParamType = "bool"
	ParamDuration ParamType = "duration"
	ParamList     ParamType = "list"
	ParamMap      ParamType = "map" // string keys
)

// ParamSpec declares one plan parameter.
type ParamSpec struct {
	Name        string
	Type        ParamType
	Default     any // already converted to Type; nil when absent
	Required    bool
	Secret      bool
	Description string
	Pos         Pos
}

// Step is one step of a plan.
type Step struct {
	ID   string
	Type string
	Def  *Definition
	Pos  Pos

	// With is the step's `with:` mapping as written; nil when absent. Bind
	// resolves it into the parameter struct at run time.
	With *yaml.Node
	// params is a built step's parameter struct (see Build); With is nil.
	params any

	Input           string   // stream edge: the step whose output this step reads
	Needs           []string // explicit ordering
	When            *Expr    // nil: always
	Asserts         []Assertion
	Retry           Retry
	Timeout         time.Duration
	ContinueOnError bool

	// Keys are the keys: entries the step names in with:, sorted; nil
	// with KeysUnknown when a key field holds an expression.
	Keys        []string
	KeysUnknown bool

	// ForEach, when set, runs the step once per element of a list or map
	// (a stream group: its source's ForEach runs the whole group per item).
	ForEach     *ForEach
	MaxParallel int  // items at once; 0: Settings.Concurrency
	FailFast    bool // a failed item cancels the items still running

	// Calls is the plan this step runs, for a step type whose Definition
	// has Calls: loaded and checked with the calling plan.
	Calls *Plan

	// Deps are every step this one must wait for: Input, Needs and the steps
	// its expressions reference, sorted, without duplicates.
	Deps []string
}

// ForEach is a step's for_each: an expression evaluated when the step
// starts, or a list or map written in the plan.
type ForEach struct {
	Expr    *Expr // nil for a literal
	Literal any   // []any or map[string]any; nil for an expression
	// Shape is "list" or "map" when known at load time, else "".
	Shape string
}

// PlanOutput is one entry of a plan's outputs: section.
type PlanOutput struct {
	Name        string
	Expr        *Expr
	Description string
	Pos         Pos
}

// Retry says how often to run a failing step again.
type Retry struct {
	Attempts int           // total attempts; 0 or 1: no retry
	Backoff  time.Duration // first delay; doubles each time, with jitter
}

// Assertion is one entry of a step's assert: list.
type Assertion struct {
	That    *Expr
	Message string // optional
	Pos     Pos
}

// PrivateKeys says, for each entry of keys:, whether a run of p may need
// its private part (identities): true unless every step naming it reads
// only public parts (Definition.PublicKeysOnly). A step whose key field
// holds an expression could name any entry, so it makes them all private.
func (p *Plan) PrivateKeys() map[string]bool {
	out := make(map[string]bool, len(p.Keys))
	for name := range p.Keys {
		out[name] = false
	}
	for _, s := range p.Steps {
		public := s.Def != nil && s.Def.PublicKeysOnly
		if s.KeysUnknown && !public {
			for name := range out {
				out[name] = true
			}
		}
		for _, k := range s.Keys {
			if !public {
				out[k] = true
			}
		}
	}
	return out
}
