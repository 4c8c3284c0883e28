package latency

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Verdict is the outcome of an overhead gate.
type Verdict string

// The three verdicts: Pass when the whole confidence interval is at or
// below the limit, Fail when it is wholly above, Inconclusive otherwise.
const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive"
)

// Interval is an overhead estimate: Ratio = candidate/baseline - 1 (0.05
// means 5% slower) with a confidence interval [Low, High].
type Interval struct {
	Ratio float64
	Low   float64
	High  float64
}

// Judge returns the verdict of iv against limit max (a ratio, 0.05 for 5%).
func (iv Interval) Judge(max float64) Verdict {
	switch {
	case iv.High <= max:
		return Pass
	case iv.Low > max:
		return Fail
	}
	return Inconclusive
}

// EstimateOptions tune Estimate.
type EstimateOptions struct {
	Confidence float64 // two-sided, e.g. 0.95
	Resamples  int     // bootstrap resamples, e.g. 2000
	Seed       uint64  // the bootstrap is deterministic for a seed
	// Paired says that round r of the baseline and round r of the candidate
	// ran together (interleaved in one measure step), so rounds are
	// resampled as pairs and drift between rounds cancels out. Otherwise the
	// two sides are resampled independently (a saved baseline file).
	Paired bool
}

// Estimate estimates the overhead of cand over base for each query and for
// all queries together. base[q][r] and cand[q][r] are one statistic (say
// p95) of query q in round r; values must be positive.
//
// Per query, the estimate is the geometric mean over rounds of the
// candidate's statistic divided by the baseline's, minus one; the aggregate
// is the geometric mean of the per-query ratios (as benchstat summarises).
// The interval is a percentile bootstrap over rounds (a round of every query
// is resampled as a unit), widened by sqrt(n/(n-1)) around the estimate to
// correct the bootstrap's known under-coverage with few rounds.
func Estimate(base, cand [][]float64, o EstimateOptions) (perQuery []Interval, agg Interval, err error) {
	nq := len(base)
	if nq == 0 || len(cand) != nq {
		return nil, Interval{}, fmt.Errorf("estimating overhead: %d baseline and %d candidate queries", nq, len(cand))
	}
	nb, nc := len(base[0]), len(cand[0])
	for q := range nq {
		if len(base[q]) != nb || len(cand[q]) != nc {
			return nil, Interval{}, errors.New("estimating overhead: queries have different numbers of rounds")
		}
		if slices.ContainsFunc(base[q], notPositive) || slices.ContainsFunc(cand[q], notPositive) {
			return nil, Interval{}, errors.New("estimating overhead: a round has no positive value (no successful samples?)")
		}
	}
	if nb < 2 || nc < 2 {
		return nil, Interval{}, fmt.Errorf("estimating overhead: need at least 2 rounds on each side, have %d and %d (set rounds)", nb, nc)
	}
	if o.Paired && nb != nc {
		return nil, Interval{}, fmt.Errorf("estimating overhead: paired rounds need equal counts, have %d and %d", nb, nc)
	}
	if o.Resamples < 100 {
		o.Resamples = 100
	}
	lb, lc := logs(base), logs(cand)
	ib, ic := seq(nb), seq(nc)
	point := make([]float64, nq)
	for q := range nq {
		point[q] = meanAt(lc[q], ic) - meanAt(lb[q], ib)
	}
	boot := make([][]float64, nq+1) // the last row is the aggregate
	for q := range boot {
		boot[q] = make([]float64, o.Resamples)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	for b := range o.Resamples {
		for i := range ib {
			ib[i] = rng.IntN(nb)
		}
		if o.Paired {
			copy(ic, ib)
		} else {
			for i := range ic {
				ic[i] = rng.IntN(nc)
			}
		}
		var sum float64
		for q := range nq {
			d := meanAt(lc[q], ic) - meanAt(lb[q], ib)
			boot[q][b] = d
			sum += d
		}
		boot[nq][b] = sum / float64(nq)
	}
	n := min(nb, nc)
	widen := math.Sqrt(float64(n) / float64(n-1))
	alpha := (1 - o.Confidence) / 2
	interval := func(est float64, draws []float64) Interval {
		slices.Sort(draws)
		lo := PercentileFloat(draws, 100*alpha)
		hi := PercentileFloat(draws, 100*(1-alpha))
		lo, hi = est-widen*(est-lo), est+widen*(hi-est)
		return Interval{Ratio: math.Expm1(est), Low: math.Expm1(lo), High: math.Expm1(hi)}
	}
	perQuery = make([]Interval, nq)
	var sum float64
	for q := range nq {
		perQuery[q] = interval(point[q], boot[q])
		sum += point[q]
	}
	return perQuery, interval(sum/float64(nq), boot[nq]), nil
}

func notPositive(x float64) bool { return !(x > 0) || math.IsInf(x, 0) }

func logs(v [][]float64) [][]float64 {
	out := make([][]float64, len(v))
	for q, row := range v {
		out[q] = make([]float64, len(row))
		for r, x := range row {
			out[q][r] = math.Log(x)
		}
	}
	return out
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func meanAt(v []float64, idx []int) float64 {
	var s float64
	for _, i := range idx {
		s += v[i]
	}
	return s / float64(len(idx))
}
