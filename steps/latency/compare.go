package latency

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Estimate is an overhead estimate on the log scale: Log is
// log(candidate/baseline) of one statistic, SE its standard error and DF
// the degrees of freedom of that error (rounds - 1).
type Estimate struct {
	Log float64
	SE  float64
	DF  float64
}

// Ratio returns the estimated overhead, candidate/baseline - 1.
func (e Estimate) Ratio() float64 { return math.Expm1(e.Log) }

// Interval returns the overhead with a two-sided interval whose error rate
// is alpha (0.05 for 95%), from Student's t with DF degrees of freedom.
func (e Estimate) Interval(alpha float64) Interval {
	hw := e.halfWidth(alpha)
	return Interval{Ratio: math.Expm1(e.Log), Low: math.Expm1(e.Log - hw), High: math.Expm1(e.Log + hw)}
}

func (e Estimate) halfWidth(alpha float64) float64 {
	return tQuantile(1-alpha/2, e.DF) * e.SE
}

func tQuantile(p, df float64) float64 {
	if df < 1 {
		df = 1
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// Compare estimates the overhead of cand over base for statistic stat (see
// StatNames) of each query, and over all queries together (the geometric
// mean of the per-query ratios, as benchstat summarises). base[q] and
// cand[q] hold query q's samples on each side.
//
// The estimate compares the statistic of every sample pooled over the
// rounds (not a statistic per round, which wastes the data: a p95 of 200
// samples is itself noisy). Its error is the cluster-robust variance with
// rounds as clusters (see Series.logInfluence), so that whatever differs
// from round to round (the machine's load, the connections' placement)
// counts, with rounds - 1 degrees of freedom. paired says that round r of
// both sides ran together, interleaved (two targets of one measure step):
// their shared noise then cancels. Otherwise (a saved baseline file) the
// two sides are independent.
func Compare(base, cand []*Series, stat string, paired bool) (perQuery []Estimate, all Estimate, err error) {
	return compare(base, cand, stat, paired, paired)
}

func compare(base, cand []*Series, stat string, paired, normalize bool) (perQuery []Estimate, all Estimate, err error) {
	nq := len(base)
	if nq == 0 || len(cand) != nq {
		return nil, Estimate{}, fmt.Errorf("comparing: %d baseline and %d candidate queries", nq, len(cand))
	}
	rb, rc := base[0].Rounds(), cand[0].Rounds()
	for q := range nq {
		if base[q].Rounds() != rb || cand[q].Rounds() != rc {
			return nil, Estimate{}, errors.New("comparing: queries have different numbers of rounds")
		}
	}
	if rb < 2 || rc < 2 {
		return nil, Estimate{}, fmt.Errorf("comparing: need at least 2 rounds on each side, have %d and %d", rb, rc)
	}
	if paired && rb != rc {
		return nil, Estimate{}, fmt.Errorf("comparing: paired rounds need equal counts, have %d and %d", rb, rc)
	}
	if normalize {
		base, cand = normalized(base, cand)
	}
	perQuery = make([]Estimate, nq)
	allB, allC := make([]float64, rb), make([]float64, rc)
	var allLog float64
	for q := range nq {
		lb, ib, err := base[q].logInfluence(stat)
		if err != nil {
			return nil, Estimate{}, fmt.Errorf("comparing: baseline: %w", err)
		}
		lc, ic, err := cand[q].logInfluence(stat)
		if err != nil {
			return nil, Estimate{}, fmt.Errorf("comparing: candidate: %w", err)
		}
		perQuery[q] = combine(lc-lb, ib, ic, paired)
		allLog += lc - lb
		for r := range ib {
			allB[r] += ib[r] / float64(nq)
		}
		for r := range ic {
			allC[r] += ic[r] / float64(nq)
		}
	}
	return perQuery, combine(allLog/float64(nq), allB, allC, paired), nil
}

// combine returns the estimate d with the variance of the difference of
// two sides whose per-round influences are ib and ic.
func combine(d float64, ib, ic []float64, paired bool) Estimate {
	if paired {
		var v float64
		for r := range ib {
			x := ic[r] - ib[r]
			v += x * x
		}
		k := float64(len(ib))
		return Estimate{Log: d, SE: math.Sqrt(v * k / (k - 1)), DF: k - 1}
	}
	vb, vc := clusterVar(ib), clusterVar(ic)
	// Welch-Satterthwaite degrees of freedom for the sum of two variances.
	df := (vb + vc) * (vb + vc) / (vb*vb/float64(len(ib)-1) + vc*vc/float64(len(ic)-1))
	if math.IsNaN(df) {
		df = float64(min(len(ib), len(ic)) - 1)
	}
	return Estimate{Log: d, SE: math.Sqrt(vb + vc), DF: df}
}

func clusterVar(infl []float64) float64 {
	var v float64
	for _, x := range infl {
		v += x * x
	}
	k := float64(len(infl))
	return v * k / (k - 1)
}

// normalized returns copies of paired series in which both sides of each
// round are divided by that round's scale, the geometric mean of the two
// sides' medians. Drift between rounds (the machine's load, shared by
// both sides) then no longer spreads the pooled samples, so that the
// slowest 5% are not only those of the slowest rounds; the ratio of the
// two sides is unchanged, and the scale is symmetric, so that identical
// sides stay identical in distribution.
func normalized(base, cand []*Series) (nb, nc []*Series) {
	for q := range base {
		b, c := &Series{}, &Series{}
		for r := range base[q].Rounds() {
			br, cr := base[q].Round(r), cand[q].Round(r)
			scale := math.Sqrt(PercentileFloat(br, 50) * PercentileFloat(cr, 50))
			if !(scale > 0) {
				scale = 1
			}
			b.addSorted(scaled(br, 1/scale))
			c.addSorted(scaled(cr, 1/scale))
		}
		nb, nc = append(nb, b), append(nc, c)
	}
	return nb, nc
}

func scaled(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}
