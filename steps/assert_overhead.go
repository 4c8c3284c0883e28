package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/reportview"
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
		Summary: "Gate on the latency overhead of a candidate over a baseline (two targets of a measure step, or a saved results file): " +
			"pooled samples, an interval robust to round-to-round noise, a verdict and what to do",
		New:     func() any { return &AssertOverhead{} },
		Section: reportview.Overhead,
		Outputs: []runner.OutputSpec{
			{Name: "p50", Type: "map", Doc: stat("for stat p50, over every query (geometric mean of the per-query ratios)") + "; present when stat lists it, likewise p90, p95, p99, mean", Conditional: true},
			{Name: "p90", Type: "map", Doc: stat("for stat p90, over every query"), Conditional: true},
			{Name: "p95", Type: "map", Doc: stat("for stat p95, over every query") + " (e.g. steps.overhead.p95.ci_high <= 0.05)", Conditional: true},
			{Name: "p99", Type: "map", Doc: stat("for stat p99, over every query"), Conditional: true},
			{Name: "mean", Type: "map", Doc: stat("for stat mean, over every query"), Conditional: true},
			{Name: "queries", Type: "map", Doc: "per query name, then per stat: the same mapping (e.g. steps.overhead.queries.q1.p95.ratio)"},
			{Name: "verdict", Type: "string", Doc: "the gate's verdict: pass, inconclusive or fail (the worst over every stat, of all queries together; with per_query also of each query)"},
			{Name: "advice", Type: "string", Doc: "one sentence: what the verdict means and what to do (for an inconclusive one, which way it leans and how long a measurement would decide it)"},
			{Name: "table", Type: "string", Doc: "the comparison as a short text table (query, stat, baseline, candidate, overhead, interval, verdict), as the log shows it"},
			{Name: "message", Type: "string", Doc: "every comparison that did not pass, with its numbers; empty on pass"},
			{Name: "leans", Type: "string", Doc: "when inconclusive: pass or fail, the side of the limit the estimate is on; empty otherwise"},
			{Name: "more", Type: "number", Doc: "when inconclusive: about how many times the samples measured would decide it, if the estimate held (0 when decided; -1 when the estimate sits on the limit)"},
			{Name: "max", Type: "number", Doc: "the limit, as a ratio (0.05 for 5%)"},
			{Name: "confidence", Type: "number", Doc: "the confidence of the intervals: confidence, adjusted for the looks of a measurement that ran until decided"},
			{Name: "rounds", Type: "int", Doc: "rounds compared (the smaller side)"},
			{Name: "samples", Type: "int", Doc: "samples per target compared (the smaller side, every query)"},
			{Name: "seconds", Type: "number", Doc: "how long the candidate's measurement took"},
			{Name: "stopped", Type: "string", Doc: "why the candidate's measurement ended: decided, budget or rounds"},
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
	Stat           StatList `yaml:"stat" default:"[p95]" enum:"p50,p90,p95,p99,mean" doc:"statistics to compare (one or a list)"`
	Max            Ratio    `yaml:"max" default:"5%" doc:"largest acceptable overhead, e.g. 5% (or 0.05)"`
	Confidence     float64  `yaml:"confidence" default:"0.95" doc:"two-sided confidence of the interval"`
	PerQuery       bool     `yaml:"per_query" doc:"also gate every query on its own; by default the verdict is that of all queries together (the geometric mean of their ratios), and each query's only informs"`
	OnInconclusive string   `yaml:"on_inconclusive" default:"fail" enum:"fail,pass" doc:"what an inconclusive verdict does to the step"`
	Enforce        bool     `yaml:"enforce" default:"true" doc:"false: never fail the step, only report verdicts in outputs (gate with assert: on them)"`
}

// StatList is one statistic name or a list of them.
type StatList []string

// ParamType names the type in the step reference.
func (StatList) ParamType() string { return "string or list of string" }

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

// ParamType names the type in the step reference.
func (Ratio) ParamType() string { return "percentage (5%) or ratio (0.05)" }

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
	switch {
	case a.BaselineFile == "" && a.Baseline == "":
		return errors.New("baseline: name the baseline target of results (e.g. plain), or give baseline_file")
	case a.BaselineFile == "" && a.Baseline == a.Candidate:
		return fmt.Errorf("baseline and candidate are both %q: for an A/A check, measure the same connection string under two target names", a.Candidate)
	}
	return checkGate(a.Stat, float64(a.Max), a.Confidence)
}

// checkGate checks the settings an overhead gate shares with measure's
// until.
func checkGate(stats []string, max, confidence float64) error {
	if len(stats) == 0 {
		return errors.New("stat: give at least one of p50, p90, p95, p99, mean")
	}
	switch {
	case !(confidence > 0.5 && confidence < 1):
		return fmt.Errorf("confidence: %v: give a value between 0.5 and 1, e.g. 0.95", confidence)
	case math.IsNaN(max):
		return errors.New("max: not a number")
	}
	return nil
}

// Run judges the results, logs the comparison as a table with what to do,
// and fails the step on a failing (or, with on_inconclusive: fail, an
// inconclusive) verdict.
func (a *AssertOverhead) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	cand, err := latency.Load(a.Results)
	if err != nil {
		return nil, err
	}
	base, baseName, paired := cand, a.Baseline, true
	if a.BaselineFile != "" {
		if base, err = latency.Load(a.BaselineFile); err != nil {
			return nil, err
		}
		paired = false
		if baseName == "" {
			if _, ok := base.Targets[a.Candidate]; ok {
				baseName = a.Candidate
			} else if names := base.TargetNames(); len(names) == 1 {
				baseName = names[0]
			} else {
				return nil, fmt.Errorf("baseline: %s has targets %v: name one", a.BaselineFile, names)
			}
		}
	}
	queries := cand.QueryNames()
	cs, err := cand.Series(a.Candidate, queries)
	if err != nil {
		return nil, fmt.Errorf("candidate: %s: %w", a.Results, err)
	}
	bs, err := base.Series(baseName, queries)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w (compare the same queries on both sides)", err)
	}
	if n := min(bs[0].Rounds(), cs[0].Rounds()); n < 2 {
		return nil, fmt.Errorf("the measurements have %d round(s); the interval needs at least 2 (its error comes from how rounds differ): give measure a longer max_duration or fewer rounds", n)
	}
	gate := latency.Gate{Stats: a.Stat, Max: float64(a.Max), Confidence: a.Confidence, PerQuery: a.PerQuery}
	out, err := gate.Judge(queries, bs, cs, paired, cand.Run.Share())
	if err != nil {
		return nil, err
	}
	if u := cand.Run.Until; u != nil && paired && (u.Baseline != baseName || u.Candidate != a.Candidate || u.Max != float64(a.Max) || !slices.Equal(u.Stats, a.Stat)) {
		sc.Logger.Warn("the measurement ran until a different gate was decided; the verdict holds, but it may have stopped early or late for this one",
			"until", fmt.Sprintf("%s over %s at %v, max %s", u.Candidate, u.Baseline, u.Stats, latency.Pct(u.Max)))
	}
	took := time.Duration(cand.Run.Seconds * float64(time.Second)).Round(time.Second)
	rounds, samples := min(bs[0].Rounds(), cs[0].Rounds()), 0
	for q := range queries {
		samples += min(bs[q].Count(), cs[q].Count())
	}
	advice := out.Advice(float64(a.Max), took)
	sc.Logger.Info(fmt.Sprintf("overhead gate: %s after %s, %d rounds, %d samples per target", out.Verdict, took, rounds, samples),
		"table", out.Table(), "advice", advice)
	outs := a.outputs(out)
	outs["advice"], outs["table"] = advice, out.Table()
	outs["rounds"], outs["samples"], outs["seconds"], outs["stopped"], outs["paired"] = int64(rounds), int64(samples), cand.Run.Seconds, cand.Run.Stopped, paired
	fails := out.Verdict == latency.Fail || (out.Verdict == latency.Inconclusive && a.OnInconclusive == "fail")
	if !fails || !a.Enforce {
		return outs, nil
	}
	// The outputs go with the error so that the report keeps every number.
	return outs, &runner.GateError{
		Step: sc.ID, Expr: fmt.Sprintf("overhead <= %s at %s (%.0f%% confidence)", latency.Limit(float64(a.Max)), strings.Join(a.Stat, ", "), 100*a.Confidence),
		Operands: operands(out), Message: advice,
	}
}

// operands lists the gating comparisons that did not pass, briefly.
func operands(out latency.Outcome) string {
	var parts []string
	for _, r := range out.Rows {
		if r.Gating && r.Verdict != latency.Pass {
			parts = append(parts, r.String()+" "+string(r.Verdict))
		}
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

// outputs builds the step outputs from the outcome.
func (a *AssertOverhead) outputs(out latency.Outcome) runner.Outputs {
	outs := runner.Outputs{"max": float64(a.Max), "confidence": out.Confidence, "verdict": string(out.Verdict), "leans": "", "more": 0.0}
	perQuery := map[string]any{}
	var msgs []string
	for _, r := range out.Rows {
		m := map[string]any{
			"ratio": r.Interval.Ratio, "ci_low": r.Interval.Low, "ci_high": r.Interval.High, "verdict": string(r.Verdict),
			"baseline": r.Baseline, "candidate": r.Candidate,
		}
		if r.Query == "" {
			outs[r.Stat] = m
		} else {
			if perQuery[r.Query] == nil {
				perQuery[r.Query] = map[string]any{}
			}
			perQuery[r.Query].(map[string]any)[r.Stat] = m
		}
		if r.Verdict != latency.Pass {
			msgs = append(msgs, fmt.Sprintf("%s %s (%.1f%% interval; limit %s; baseline %.3f ms, candidate %.3f ms)%s",
				r, r.Verdict, 100*out.Confidence, latency.Limit(float64(a.Max)), r.Baseline, r.Candidate, map[bool]string{false: ", informative only"}[r.Gating]))
		}
	}
	if _, leans, more, ok := out.Lean(float64(a.Max)); ok {
		outs["leans"], outs["more"] = string(leans), more
		if math.IsInf(more, 1) {
			outs["more"] = -1.0
		}
	}
	outs["queries"], outs["message"] = perQuery, strings.Join(msgs, "; ")
	return outs
}
