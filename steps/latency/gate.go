package latency

import (
	"fmt"
	"math"
	"slices"
)

// Gate is an overhead gate: the largest acceptable overhead of a candidate
// over a baseline, for some statistics, at a confidence.
type Gate struct {
	Stats      []string // of StatNames
	Max        float64  // a ratio: 0.05 for 5%
	Confidence float64  // two-sided, e.g. 0.95
	// PerQuery also gates every query on its own; otherwise the verdict is
	// the workload's (all queries together), per statistic, and the
	// queries' own verdicts only inform.
	PerQuery bool
}

// Row is one judged comparison: a statistic of one query, or of all
// queries together (Query empty).
type Row struct {
	Query     string
	Stat      string
	Baseline  float64 // the statistic over every sample, ms; for all queries the geometric mean
	Candidate float64
	Estimate  Estimate
	Interval  Interval
	Verdict   Verdict
	Gating    bool // the gate's verdict depends on this row
}

// Outcome is a gate's judgement of the data measured so far.
type Outcome struct {
	Rows    []Row
	Verdict Verdict // the worst verdict of the gating rows
	// Confidence is that of every interval: the gate's, adjusted for the
	// share of the error rate that this look may spend.
	Confidence float64
	Paired     bool
}

// Judge compares cand with base (one series per query of queries, in
// the same order) at every statistic of g, with intervals that spend
// share (0..1] of the error rate 1 - g.Confidence (see LookShare; 1 for
// a measurement judged once).
func (g Gate) Judge(queries []string, base, cand []*Series, paired bool, share float64) (Outcome, error) {
	alpha := (1 - g.Confidence) * share
	out := Outcome{Verdict: Pass, Confidence: 1 - alpha, Paired: paired}
	for _, stat := range g.Stats {
		per, all, err := Compare(base, cand, stat, paired)
		if err != nil {
			return Outcome{}, err
		}
		var gb, gc float64
		for q, name := range queries {
			b, c := base[q].Value(stat), cand[q].Value(stat)
			out.add(g.row(name, stat, b, c, per[q], alpha, g.PerQuery))
			gb += math.Log(b)
			gc += math.Log(c)
		}
		n := float64(len(queries))
		out.add(g.row("", stat, math.Exp(gb/n), math.Exp(gc/n), all, alpha, true))
	}
	// The workload's rows first, in the order of the statistics.
	slices.SortStableFunc(out.Rows, func(a, b Row) int {
		switch {
		case a.Query == "" && b.Query != "":
			return -1
		case a.Query != "" && b.Query == "":
			return 1
		}
		return 0
	})
	return out, nil
}

func (g Gate) row(query, stat string, b, c float64, e Estimate, alpha float64, gating bool) Row {
	iv := e.Interval(alpha)
	return Row{Query: query, Stat: stat, Baseline: b, Candidate: c, Estimate: e, Interval: iv, Verdict: iv.Judge(g.Max), Gating: gating}
}

func (o *Outcome) add(r Row) {
	o.Rows = append(o.Rows, r)
	if r.Gating && rank(r.Verdict) > rank(o.Verdict) {
		o.Verdict = r.Verdict
	}
}

func rank(v Verdict) int { return slices.Index([]Verdict{Pass, Inconclusive, Fail}, v) }

// Decided reports whether the verdict is final: every gating row passes,
// or one fails.
func (o Outcome) Decided() bool { return o.Verdict != Inconclusive }

// Lean describes an inconclusive outcome: the undecided gating row that is
// furthest from a verdict, whether its estimate lies below the limit
// (leans pass) or above (leans fail), and about how many times the samples
// measured so far would decide it, if the estimate held and the interval
// narrowed as one over the square root of the samples (+Inf when the
// estimate sits on the limit). ok is false when the outcome is decided.
func (o Outcome) Lean(max float64) (row Row, leans Verdict, factor float64, ok bool) {
	if o.Decided() {
		return Row{}, "", 0, false
	}
	limit := math.Log1p(max)
	factor = -1
	for _, r := range o.Rows {
		if !r.Gating || r.Verdict != Inconclusive {
			continue
		}
		hw := r.Estimate.Log - math.Log1p(r.Interval.Low)
		dist := math.Abs(r.Estimate.Log - limit)
		f := math.Inf(1)
		if dist > 0 {
			f = math.Max(1, (hw/dist)*(hw/dist))
		}
		if f > factor {
			row, factor = r, f
		}
	}
	leans = Pass
	if row.Estimate.Log > limit {
		leans = Fail
	}
	return row, leans, factor, true
}

// String formats a row's comparison for people: "p95 of all queries:
// +4.1% [+0.9%, +7.4%]".
func (r Row) String() string {
	return fmt.Sprintf("%s: %s [%s, %s]", r.name(), Pct(r.Interval.Ratio), Pct(r.Interval.Low), Pct(r.Interval.High))
}

// name is "p95 of all queries" or "p95 of QUERY".
func (r Row) name() string {
	if r.Query == "" {
		return r.Stat + " of all queries"
	}
	return r.Stat + " of " + r.Query
}

// Pct formats a ratio as a signed percentage with one decimal.
func Pct(r float64) string { return fmt.Sprintf("%+.1f%%", 100*r) }
