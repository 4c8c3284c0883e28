package steps

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"gopkg.in/yaml.v3"
)

func assertOverheadDefinition() runner.Definition {
	stat := func(what string) string {
		return what + ": a mapping of ratio (candidate/baseline - 1; 0.05 is 5% slower), ci_low and ci_high (the confidence interval " +
			"of the ratio), verdict (pass, fail or inconclusive), baseline and candidate (the statistic in milliseconds)"
	}
	return runner.Definition{
		Type: "assert-overhead",
		Kind: runner.KindAction,
		Summary: "Gate on the latency overhead of a candidate over a baseline (two targets of a measure step, or a saved results file), " +
			"with a bootstrap confidence interval over rounds",
		New: func() any { return &AssertOverhead{} },
		Outputs: []runner.OutputSpec{
			{Name: "p50", Type: "map", Doc: stat("for stat p50, over every query (geometric mean of the per-query ratios)") + "; present when stat lists it, likewise p90, p95, p99, mean"},
			{Name: "p90", Type: "map", Doc: stat("for stat p90, over every query")},
			{Name: "p95", Type: "map", Doc: stat("for stat p95, over every query") + " (e.g. steps.overhead.p95.ci_high <= 0.05)"},
			{Name: "p99", Type: "map", Doc: stat("for stat p99, over every query")},
			{Name: "mean", Type: "map", Doc: stat("for stat mean, over every query")},
			{Name: "queries", Type: "map", Doc: "per query name, then per stat: the same mapping (e.g. steps.overhead.queries.q1.p95.ratio)"},
			{Name: "verdict", Type: "string", Doc: "the worst verdict over every stat and query: pass, inconclusive or fail"},
			{Name: "message", Type: "string", Doc: "what failed or was inconclusive, with numbers; empty on pass"},
			{Name: "max", Type: "number", Doc: "the limit, as a ratio (0.05 for 5%)"},
			{Name: "rounds", Type: "int", Doc: "rounds compared (the smaller side)"},
			{Name: "paired", Type: "bool", Doc: "whether rounds were compared as interleaved pairs (both targets of one measure step)"},
		},
	}
}

// AssertOverhead is the parameter struct of the assert-overhead step.
type AssertOverhead struct {
	Results        string   `yaml:"results" required:"true" doc:"results file of a measure step: \"${{ steps.bench.file }}\", or a file it saved"`
	Candidate      string   `yaml:"candidate" required:"true" doc:"the target of results to judge, e.g. tls"`
	Baseline       string   `yaml:"baseline" doc:"the baseline target: in results, or with baseline_file in that file (default there: candidate's name or its only target)"`
	BaselineFile   string   `yaml:"baseline_file" doc:"compare with a results file saved earlier (measure's save:) instead of a target of results"`
	Stat           StatList `yaml:"stat" default:"[p95]" doc:"statistics to compare: p50, p90, p95, p99, mean (one or a list)"`
	Max            Ratio    `yaml:"max" default:"5%" doc:"largest acceptable overhead, e.g. 5% (or 0.05)"`
	Confidence     float64  `yaml:"confidence" default:"0.95" doc:"two-sided confidence of the interval"`
	OnInconclusive string   `yaml:"on_inconclusive" default:"fail" doc:"what an inconclusive verdict does to the step: fail or pass"`
	Enforce        bool     `yaml:"enforce" default:"true" doc:"false: never fail the step, only report verdicts in outputs (gate with assert: on them)"`
	Resamples      int      `yaml:"resamples" default:"2000" doc:"bootstrap resamples"`
	Seed           uint64   `yaml:"seed" default:"1" doc:"seed of the bootstrap, so that a run is reproducible"`
}

// StatList is one statistic name or a list of them.
type StatList []string

// UnmarshalYAML accepts a string or a list of strings.
func (s *StatList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = StatList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Ratio is a fraction written as a percentage ("5%") or a number (0.05).
type Ratio float64

// UnmarshalYAML accepts "5%", "0.5%" or a number from 0 to 1.
func (r *Ratio) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 {
			return fmt.Errorf("want a percentage like 5%%, got %q", v)
		}
		*r = Ratio(f / 100)
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil || f < 0:
		return fmt.Errorf("want a percentage like 5%% or a ratio like 0.05, got %q", v)
	case f > 1:
		return fmt.Errorf("%q is ambiguous: write %s%% for percent, or a ratio from 0 to 1", v, v)
	}
	*r = Ratio(f)
	return nil
}

var (
	_ runner.Action    = (*AssertOverhead)(nil)
	_ runner.Validator = (*AssertOverhead)(nil)
)

// Validate checks the settings.
func (a *AssertOverhead) Validate() error {
	if len(a.Stat) == 0 {
		return errors.New("stat: give at least one of p50, p90, p95, p99, mean")
	}
	for _, s := range a.Stat {
		if !slices.Contains(latency.StatNames, s) {
			return fmt.Errorf("stat: %q is not one of p50, p90, p95, p99, mean%s", s, runner.Suggest(s, latency.StatNames))
		}
	}
	switch {
	case a.BaselineFile == "" && a.Baseline == "":
		return errors.New("baseline: name the baseline target of results (e.g. plain), or give baseline_file")
	case a.BaselineFile == "" && a.Baseline == a.Candidate:
		return fmt.Errorf("baseline and candidate are both %q: for an A/A check, measure the same connection string under two target names", a.Candidate)
	case !(a.Confidence > 0.5 && a.Confidence < 1):
		return fmt.Errorf("confidence: %v: give a value between 0.5 and 1, e.g. 0.95", a.Confidence)
	case a.OnInconclusive != "fail" && a.OnInconclusive != "pass":
		return fmt.Errorf("on_inconclusive: %q: give fail or pass", a.OnInconclusive)
	case a.Resamples < 100:
		return fmt.Errorf("resamples: %d: give at least 100 (1000 or more for a gate)", a.Resamples)
	case math.IsNaN(float64(a.Max)):
		return errors.New("max: not a number")
	}
	return nil
}

// pct formats a ratio as a signed percentage.
func pct(r float64) string { return fmt.Sprintf("%+.1f%%", 100*r) }
