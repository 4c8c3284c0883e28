package steps

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
)

// overheadItem is one judged comparison: a stat of one query, or of all.
type overheadItem struct {
	query   string // empty for the aggregate
	stat    string
	iv      latency.Interval
	verdict latency.Verdict
	base    float64 // the statistic over every round, ms
	cand    float64
}

func (it overheadItem) output() map[string]any {
	return map[string]any{
		"ratio": it.iv.Ratio, "ci_low": it.iv.Low, "ci_high": it.iv.High, "verdict": string(it.verdict),
		"baseline": it.base, "candidate": it.cand,
	}
}

func (it overheadItem) describe(max float64, conf float64) string {
	who := fmt.Sprintf("query %q", it.query)
	if it.query == "" {
		who = "all queries (geometric mean)"
	}
	s := fmt.Sprintf("%s %s: overhead %s (%.0f%% interval %s .. %s) against a limit of %s; baseline %.3f ms, candidate %.3f ms",
		who, it.stat, pct(it.iv.Ratio), 100*conf, pct(it.iv.Low), pct(it.iv.High), pct(max), it.base, it.cand)
	if it.verdict == latency.Inconclusive {
		s += " (inconclusive)"
	}
	return s
}

// Run loads the results, estimates the overhead of every stat and query and
// fails the step on a failing (or, with on_inconclusive: fail, an
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
	var items []overheadItem
	rounds := 0
	for _, stat := range a.Stat {
		cv, err := cand.RoundValues(a.Candidate, queries, stat)
		if err != nil {
			return nil, fmt.Errorf("candidate: %s: %w", a.Results, err)
		}
		bv, err := base.RoundValues(baseName, queries, stat)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w (compare the same queries on both sides)", err)
		}
		rounds = min(len(bv[0]), len(cv[0]))
		per, agg, err := latency.Estimate(bv, cv, latency.EstimateOptions{
			Confidence: a.Confidence, Resamples: a.Resamples, Seed: a.Seed, Paired: paired,
		})
		if err != nil {
			return nil, err
		}
		var gb, gc float64
		for q, name := range queries {
			b, _ := base.Targets[baseName].Queries[name].Summary.Get(stat)
			c, _ := cand.Targets[a.Candidate].Queries[name].Summary.Get(stat)
			items = append(items, overheadItem{query: name, stat: stat, iv: per[q], verdict: per[q].Judge(float64(a.Max)), base: b, cand: c})
			gb += math.Log(b)
			gc += math.Log(c)
		}
		n := float64(len(queries))
		items = append(items, overheadItem{stat: stat, iv: agg, verdict: agg.Judge(float64(a.Max)), base: math.Exp(gb / n), cand: math.Exp(gc / n)})
	}
	outs, verdict, msg := a.outputs(items, queries)
	outs["rounds"], outs["paired"] = int64(rounds), paired
	if sc != nil && sc.Logger != nil {
		for _, it := range items {
			q := it.query
			if q == "" {
				q = "(all, geometric mean)"
			}
			sc.Logger.Info("overhead", "stat", it.stat, "query", q, "ratio", pct(it.iv.Ratio),
				"ci", pct(it.iv.Low)+" .. "+pct(it.iv.High), "verdict", it.verdict)
		}
	}
	fails := verdict == latency.Fail || (verdict == latency.Inconclusive && a.OnInconclusive == "fail")
	if !fails || !a.Enforce {
		return outs, nil
	}
	id := "assert-overhead"
	if sc != nil {
		id = sc.ID
	}
	hint := "the overhead is above the limit"
	if verdict == latency.Inconclusive {
		hint = fmt.Sprintf("inconclusive: the interval straddles the limit; measure more rounds (now %d) or iterations, or set on_inconclusive: pass", rounds)
	}
	// The outputs go with the error so that the report keeps every number.
	return outs, &runner.GateError{
		Step: id, Expr: fmt.Sprintf("overhead <= %s at %.0f%% confidence", strings.TrimPrefix(pct(float64(a.Max)), "+"), 100*a.Confidence),
		Operands: msg, Message: hint,
	}
}

// outputs builds the step outputs, the worst verdict and the message that
// lists every non-passing comparison.
func (a *AssertOverhead) outputs(items []overheadItem, queries []string) (runner.Outputs, latency.Verdict, string) {
	outs := runner.Outputs{"max": float64(a.Max)}
	perQuery := map[string]any{}
	for _, q := range queries {
		perQuery[q] = map[string]any{}
	}
	verdict := latency.Pass
	var fails, incs []string
	rank := func(v latency.Verdict) int {
		return slices.Index([]latency.Verdict{latency.Pass, latency.Inconclusive, latency.Fail}, v)
	}
	for _, it := range items {
		if it.query == "" {
			outs[it.stat] = it.output()
		} else {
			perQuery[it.query].(map[string]any)[it.stat] = it.output()
		}
		if rank(it.verdict) > rank(verdict) {
			verdict = it.verdict
		}
		switch it.verdict {
		case latency.Fail:
			fails = append(fails, it.describe(float64(a.Max), a.Confidence))
		case latency.Inconclusive:
			incs = append(incs, it.describe(float64(a.Max), a.Confidence))
		}
	}
	// Failures first; inconclusive comparisons are only counted next to
	// them (every number is in the outputs and the log).
	msg := strings.Join(fails, "; ")
	switch {
	case len(fails) > 0 && len(incs) > 0:
		msg += fmt.Sprintf("; and %d comparison(s) inconclusive", len(incs))
	case len(fails) == 0:
		msg = strings.Join(incs, "; ")
	}
	outs["queries"], outs["verdict"], outs["message"] = perQuery, string(verdict), msg
	return outs, verdict, msg
}
