// Package runner loads, validates and runs sluice plans. It knows nothing of
// PostgreSQL, age or storage: step types are given to it as Definitions.
package runner

import (
	"context"
	"encoding/json"
	htmltemplate "html/template"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Kind says how a step type takes part in byte streams.
type Kind string

// The four kinds of step.
const (
	KindSource    Kind = "source"    // writes one stream
	KindTransform Kind = "transform" // reads one stream, writes one
	KindSink      Kind = "sink"      // reads one stream
	KindAction    Kind = "action"    // no stream
)

// Outputs are the values a step returns for later expressions, the report and
// manifests. Values are JSON-friendly: string, bool, int64, float64,
// time.Duration (rendered as seconds in reports), []any, map[string]any.
type Outputs map[string]any

// List returns ss as a list output: the []any that redaction, reports and
// expressions expect of lists.
func List(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Number reads a numeric output value: an int, int64, float32 or float64
// as a step returns it, or a json.Number as read back from a report; ok is
// false for anything else.
func Number(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// OutputSpec documents one output of a step type.
type OutputSpec struct {
	Name string `json:"name"`
	Type string `json:"type"` // int, number, string, bool, duration, list, map
	Doc  string `json:"doc"`
	// Conditional says the step returns the output only in the cases its
	// Doc names (a parameter that asks for it, a kind of target). Every
	// other declared output is returned by every successful run, and a
	// step returns no output it does not declare: a test of every step
	// type holds each to that (CheckOutputs).
	Conditional bool `json:"conditional,omitempty"`
}

// Definition describes a step type. The same definition drives validation,
// the JSON Schema and `sluice steps`.
type Definition struct {
	Type    string // kebab-case, e.g. "assert-overhead"
	Kind    Kind
	Summary string

	// New returns a pointer to a fresh parameter struct. Its exported fields
	// carry `yaml:"name"` and `doc:"..."` tags, and optionally
	// `default:"value"` (YAML text), `required:"true"` and `expr:"defer"` (the
	// field keeps its ${{ }} text, checked at load time, and the step expands
	// it with StepContext.Expand: exec does, to hand values to a shell in its
	// environment instead of splicing them into the script). The struct
	// implements the role interface of Kind: Source, Transform, Sink or Action.
	// It may implement Validator and Linter.
	New func() any

	Outputs []OutputSpec

	// Outcome, when set, says in one line what a succeeded step did, from
	// its final outputs: where a backup went, what was restored, what a
	// rotation changed. The report records it (StepReport.Outcome, redacted)
	// and the CLI prints it after a run, so that neither names a step type.
	// It must not fail on missing or mistyped outputs; "" says nothing.
	Outcome func(Outputs) string

	// Section, when set, draws the type's own part of its steps' cards in
	// the HTML report from a step's record, above the table of its outputs:
	// a chart, findings by severity. It returns nil when the outputs are not
	// in a shape it knows, and must not fail on a report of an older
	// release. runner/render reaches it through the registry it is given,
	// so that it names no step type.
	Section func(StepReport) (*ReportSection, error)

	// Checklist names the output whose text, when a step has gates and the
	// text is not empty, heads the step's gates as a checklist at the top
	// of the HTML report (an audit's items, each with its evidence).
	Checklist string

	// Stream safety, for the fail-closed rule: a stream that carries
	// plaintext (after a step with Plaintext, or from any source, until a
	// step with Protects) must not reach a sink with Persists unless the
	// sink's parameters implement PlaintextAllower and allow it. Plaintext
	// on a source documents it; a source without it counts as plaintext too.
	Plaintext bool
	Protects  bool
	Persists  bool

	// PublicKeysOnly says the step reads only the public part of the key
	// stores it names (recipients and the ledger), never an identity: a
	// host that runs only such steps needs no private key (see
	// Plan.PrivateKeys).
	PublicKeysOnly bool

	// Calls, when set, makes the type one that runs another plan as one
	// step: the loader loads the plan its with: names, checks the params
	// passed against that plan's params and sees through the call (cycles,
	// graph, outputs); StepContext.RunPlan runs it. Kind must be
	// KindAction.
	Calls *CallSpec
}

// ReportSection is what a step type adds to its steps' cards in the HTML
// report (Definition.Section). Body must come from html/template, which
// escapes every value; it may use the classes of the report's style sheet
// (runner/render documents them).
type ReportSection struct {
	Title string
	Body  htmltemplate.HTML
}

// CallSpec names the with: fields and the output through which a step type
// calls a plan.
type CallSpec struct {
	// File is the with: field holding the plan's path: a literal, relative
	// to the calling plan's folder, or a plan name under the plans folder.
	File string
	// Params is the with: field holding the mapping of param name to value.
	Params string
	// Outputs is the step output holding the called plan's declared
	// outputs, which the loader checks references against.
	Outputs string
}

// ParamTyper is implemented by parameter types that decode themselves
// (yaml.Unmarshaler) to name what a plan writes for them in `sluice steps`
// and docs/steps.md, e.g. "percentage (5% or 0.05)".
type ParamTyper interface {
	ParamType() string
}

// Linter is implemented by parameter structs that warn about settings that
// work but deserve a second look. The loader calls Lint on the struct decoded
// from with:'s literal values and defaults, with the names of the with:
// fields that hold ${{ }}; the warnings become Plan.Warnings.
type Linter interface {
	Lint(exprFields map[string]bool) []Lint
}

// Lint is one warning of a Linter, about with: field Field.
type Lint struct {
	Field string
	Msg   string
}

// Validator is implemented by parameter structs that check their own values.
// Validate is called at load time when no field holds an expression, and at
// run time after expressions are resolved.
type Validator interface {
	Validate() error
}

// PlaintextAllower is implemented by sink parameters that can opt out of the
// fail-closed rule (upload's allow_plaintext).
type PlaintextAllower interface {
	AllowsPlaintext() bool
}

// KeyName is the type of a parameter that names an entry of the plan's keys:
// section. The loader checks that the entry exists.
type KeyName string

// KeyConfig is one entry of a plan's keys: section. The runner does not
// interpret it; key-store code in steps/ does.
type KeyConfig struct {
	Name  string
	Store string // "dir" by default
	Path  string // relative paths are relative to the working directory; ${{ }} is resolved before the run starts
	// Options holds any other fields of the entry, as written.
	Options map[string]string
}

// StepContext is what a running step may use from the runner.
type StepContext struct {
	ID       string // step id
	Type     string
	RunID    string
	PlanName string
	PlanFile string
	RunDir   string // .sluice/runs/<run id>; never put plaintext here
	Logger   hclog.Logger
	Keys     map[string]KeyConfig
	// Secrets are the values of secret params, for steps that must keep them
	// out of what they write (errors are redacted by the runner anyway).
	Secrets []string
	// AtEnd registers fn to run when the run ends, whatever its outcome,
	// after every step finished; the last registered runs first. A step
	// that starts something later steps use (a throwaway server) stops it
	// there. Errors are logged.
	AtEnd func(fn func() error)
	// Expand resolves every ${{ }} of s against the run's current values and
	// returns the text, each value formatted as in an interpolated with:
	// string, for fields tagged `expr:"defer"`.
	Expand func(s string) (string, error)
	// Item is the key of the for_each item this execution is for (a string
	// for a map, an int for a list); nil for a step without for_each. RunDir
	// is then a folder of the item's own.
	Item any
	// Part is the part of a stream in parts (see PartedSource) this
	// execution is for; nil for a stream in one piece and for actions.
	Part *Part
	// RunPlan runs the plan the step calls (a type with Definition.Calls;
	// nil for other types) with the given param values, as part of this
	// run: its folder inside RunDir, its report nested under the step. The
	// values are converted to the called plan's param types; defaults fill
	// the others. The error is the called run's, wrapped.
	RunPlan func(ctx context.Context, params map[string]any) (*CallResult, error)
	// ExpectBytes tells the runner how many bytes a source expects to
	// write, an estimate (a database's size, an object's recorded size), so
	// that progress can show an ETA; nil for steps that are not a source.
	ExpectBytes func(n int64)
	// Checking tells the runner how many bytes a source has read so far
	// to check its input before it writes any (download reads a whole
	// object through its digest check first), so that progress shows
	// them; nil for steps that are not a source.
	Checking func(n int64)
}

// CallResult is what a called plan's run gives the step that called it.
type CallResult struct {
	Plan     string // the called plan's name
	File     string
	Status   Status
	Duration time.Duration
	// Outputs are the called plan's declared outputs (outputs:), redacted
	// of nothing: the caller's own redaction applies.
	Outputs map[string]any
	// Gates are every gate of the called run, nested calls included, in
	// plan order.
	Gates []CallGate
	// Steps maps each step id of the called plan to its status.
	Steps  map[string]string
	RunDir string
}

// CallGate is one gate of a called run, with the path of the step it
// belongs to ("upload", or "backup/upload" inside a nested call).
type CallGate struct {
	Step string
	GateResult
}

// Stage is one member of a stream, as a sink sees it when it commits: the
// chain from the source to the sink's input, source first, with the final
// outputs of each member.
type Stage struct {
	ID      string
	Type    string
	Params  any // the resolved parameter struct
	Outputs Outputs
}

// Source writes a stream.
type Source interface {
	Produce(ctx context.Context, sc *StepContext, w io.Writer) (Outputs, error)
}

// Transform reads one stream and writes one. It must read r to its end (or
// fail) and must not close w; the runner closes it.
type Transform interface {
	Transform(ctx context.Context, sc *StepContext, r io.Reader, w io.Writer) (Outputs, error)
}

// Sink reads a stream to its end into a temporary place and returns a Pending
// result. The runner calls Commit only after every member of the stream
// group finished and every assertion passed; otherwise it calls Abort.
type Sink interface {
	Consume(ctx context.Context, sc *StepContext, r io.Reader) (Outputs, Pending, error)
}

// Pending is a sink's result that is not yet visible.
type Pending interface {
	// Commit makes the result visible. upstream is the chain feeding the sink,
	// source first. Returned outputs are merged into the sink's outputs.
	Commit(ctx context.Context, upstream []Stage) (Outputs, error)
	// Abort removes everything the sink wrote. It is safe to call after a
	// failed Commit.
	Abort() error
}

// Action is a step without a stream. Outputs returned together with an
// error are kept in the report, so a failing audit still shows its evidence.
type Action interface {
	Run(ctx context.Context, sc *StepContext) (Outputs, error)
}

type noPending struct{}

func (noPending) Commit(context.Context, []Stage) (Outputs, error) { return nil, nil }
func (noPending) Abort() error                                     { return nil }

// NothingPending is a Pending with nothing to commit or abort.
var NothingPending Pending = noPending{}
