package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The step types below are small but real definitions used by the loader
// tests, since the shipped step types live in package steps.

type ltSource struct {
	Rows    int      `yaml:"rows" default:"10" doc:"rows to write"`
	Name    string   `yaml:"name" doc:"a label"`
	Timeout Duration `yaml:"timeout" default:"30s" doc:"how long to wait"`
	Chunk   Size     `yaml:"chunk" default:"64KiB" doc:"write size"`
}

func (p *ltSource) Produce(_ context.Context, _ *StepContext, w io.Writer) (Outputs, error) {
	n, err := io.WriteString(w, strings.Repeat("row\n", p.Rows))
	return Outputs{"bytes": int64(n), "rows": int64(p.Rows)}, err
}

type ltTransform struct {
	Level int    `yaml:"level" default:"3" doc:"compression level"`
	Mode  string `yaml:"mode" default:"fast" doc:"fast or slow"`
}

func (p *ltTransform) Validate() error {
	if p.Mode != "fast" && p.Mode != "slow" {
		return errors.New(`mode must be "fast" or "slow"`)
	}
	return nil
}

func (p *ltTransform) Transform(_ context.Context, _ *StepContext, r io.Reader, w io.Writer) (Outputs, error) {
	n, err := io.Copy(w, r)
	return Outputs{"bytes_in": n, "bytes_out": n}, err
}

type ltSeal struct {
	Key   KeyName   `yaml:"key" required:"true" doc:"key store entry"`
	Extra []KeyName `yaml:"extra_keys" doc:"more recipients"`
}

func (p *ltSeal) Transform(_ context.Context, _ *StepContext, r io.Reader, w io.Writer) (Outputs, error) {
	_, err := io.Copy(w, r)
	return Outputs{"key_id": string(p.Key)}, err
}

type ltStore struct {
	To             string `yaml:"to" required:"true" doc:"destination URL"`
	AllowPlaintext bool   `yaml:"allow_plaintext" doc:"store unencrypted data"`
}

func (p *ltStore) AllowsPlaintext() bool { return p.AllowPlaintext }

func (p *ltStore) Consume(_ context.Context, _ *StepContext, r io.Reader) (Outputs, Pending, error) {
	n, err := io.Copy(io.Discard, r)
	return Outputs{"bytes": n, "location": p.To}, NothingPending, err
}

type ltLevel struct {
	Name  string `yaml:"name"`
	Limit int    `yaml:"limit"`
}

type ltCheck struct {
	Limit  float64           `yaml:"limit" doc:"largest allowed ratio"`
	Labels map[string]string `yaml:"labels" doc:"extra labels"`
	Levels []ltLevel         `yaml:"levels" doc:"thresholds"`
	Every  Duration          `yaml:"every"`
	Tags   []string          `yaml:"tags"`
}

func (p *ltCheck) Run(context.Context, *StepContext) (Outputs, error) {
	return Outputs{"ok": true, "stats": map[string]any{"p50": 1.5}}, nil
}

type ltRule struct {
	Name string   `yaml:"name" doc:"rule name"`
	Op   string   `yaml:"op" default:"le" enum:"le,ge" doc:"comparison"`
	Wait Duration `yaml:"wait" default:"1m" doc:"how long"`
}

type ltPick struct {
	Stat     string   `yaml:"stat" default:"p95" enum:"p50,p95,mean" doc:"which statistic"`
	Also     []string `yaml:"also" enum:"p50,p95,mean" doc:"more statistics"`
	Mode     string   `yaml:"mode" enum:"strict,lenient" doc:"how strict (no default)"`
	Within   Duration `yaml:"within" duration:"retention" doc:"a retention span"`
	Rules    []ltRule `yaml:"rules" doc:"rules"`
	Fallback *ltRule  `yaml:"fallback" doc:"the rule when none matches"`
}

// Validate fails when a nested default is missing, which the loader's
// check of literal values would show.
func (p *ltPick) Validate() error {
	rules := p.Rules
	if p.Fallback != nil {
		rules = append(rules, *p.Fallback)
	}
	for _, r := range rules {
		if r.Op == "" || r.Wait.IsZero() {
			return fmt.Errorf("rule %q: nested defaults not applied: %+v", r.Name, r)
		}
	}
	return nil
}

func (p *ltPick) Run(context.Context, *StepContext) (Outputs, error) {
	return Outputs{"stat": p.Stat}, nil
}

// ltRegistry returns the test step types: src (source, plaintext), fetch
// (source of unknown content), xform
// (transform), seal (transform that protects), open (transform that yields
// plaintext), store (persisting sink), check (action), pick (action with
// closed sets, nested defaults and a retention span).
func ltRegistry() *Registry {
	return NewRegistry(
		Definition{Type: "src", Kind: KindSource, Summary: "Writes rows.", New: func() any { return new(ltSource) }, Plaintext: true,
			Outputs: []OutputSpec{{Name: "bytes", Type: "int", Doc: "bytes written"}, {Name: "rows", Type: "int"}}},
		Definition{Type: "fetch", Kind: KindSource, Summary: "Reads stored bytes.", New: func() any { return new(ltSource) }},
		Definition{Type: "xform", Kind: KindTransform, Summary: "Copies a stream.", New: func() any { return new(ltTransform) },
			Outputs: []OutputSpec{{Name: "bytes_in", Type: "int"}, {Name: "bytes_out", Type: "int"}}},
		Definition{Type: "seal", Kind: KindTransform, Summary: "Protects a stream.", New: func() any { return new(ltSeal) }, Protects: true, PublicKeysOnly: true,
			Outputs: []OutputSpec{{Name: "key_id", Type: "string"}}},
		Definition{Type: "open", Kind: KindTransform, Summary: "Opens a stream.", New: func() any { return new(ltSeal) }, Plaintext: true},
		Definition{Type: "store", Kind: KindSink, Summary: "Stores a stream.", New: func() any { return new(ltStore) }, Persists: true,
			Outputs: []OutputSpec{{Name: "bytes", Type: "int"}, {Name: "location", Type: "string"}}},
		Definition{Type: "check", Kind: KindAction, Summary: "Checks things.", New: func() any { return new(ltCheck) },
			Outputs: []OutputSpec{{Name: "ok", Type: "bool"}, {Name: "stats", Type: "map"}}},
		Definition{Type: "pick", Kind: KindAction, Summary: "Picks a statistic.", New: func() any { return new(ltPick) },
			Outputs: []OutputSpec{{Name: "stat", Type: "string"}}},
		callDefinition(),
	)
}

// testCall is the test registry's plan-calling step type, shaped like the
// shipped plan step (steps/plan.go), which the runner cannot import.
type testCall struct {
	File   string         `yaml:"file" required:"true" doc:"the plan to run"`
	Params map[string]any `yaml:"params" doc:"its params"`
}

func (p *testCall) Run(ctx context.Context, sc *StepContext) (Outputs, error) {
	res, err := sc.RunPlan(ctx, p.Params)
	if res == nil {
		return nil, err
	}
	gates := make([]any, len(res.Gates))
	for i, g := range res.Gates {
		gates[i] = map[string]any{"step": g.Step, "expr": g.Expr, "passed": g.Passed}
	}
	return Outputs{"outputs": res.Outputs, "duration": res.Duration, "gates": gates}, err
}

func callDefinition() Definition {
	return Definition{Type: "plan", Kind: KindAction, Summary: "Runs a plan.", New: func() any { return new(testCall) },
		Calls:   &CallSpec{File: "file", Params: "params", Outputs: "outputs"},
		Outputs: []OutputSpec{{Name: "outputs", Type: "map"}, {Name: "duration", Type: "duration"}, {Name: "gates", Type: "list"}}}
}
