package latency

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Series holds one target's latencies of one query, round by round, in
// milliseconds: every sample of every round, not a summary, so that an
// overhead estimate can pool them (see Compare).
type Series struct {
	rounds [][]float64 // each sorted
	sums   []float64   // per round
	count  int
}

// NewSeries returns a series holding rounds (each one round's samples in
// milliseconds, in any order); the slices are copied.
func NewSeries(rounds ...[]float64) *Series {
	s := &Series{}
	for _, r := range rounds {
		s.Add(r)
	}
	return s
}

// Add appends one round's samples (milliseconds, any order; copied).
func (s *Series) Add(samples []float64) {
	r := slices.Clone(samples)
	slices.Sort(r)
	s.addSorted(r)
}

// addSorted appends a round that is already sorted, without copying it.
func (s *Series) addSorted(r []float64) {
	var sum float64
	for _, x := range r {
		sum += x
	}
	s.rounds = append(s.rounds, r)
	s.sums = append(s.sums, sum)
	s.count += len(r)
}

// percentile returns the p-th percentile (0..100) of every sample, as
// PercentileFloat of them all sorted would, from the sorted rounds.
func (s *Series) percentile(p float64) float64 {
	return percentileAt(s.count, p, s.kth)
}

// kth returns the k-th smallest sample (from 0) of every round: each step
// takes as pivot the weighted median of the middles of what is left of
// each round, which drops at least a quarter of it, and counts around the
// pivot by binary search.
func (s *Series) kth(k int) float64 {
	lo, hi := make([]int, len(s.rounds)), make([]int, len(s.rounds))
	for r, round := range s.rounds {
		hi[r] = len(round)
	}
	type mid struct {
		v float64
		w int
	}
	mids := make([]mid, 0, len(s.rounds))
	below, upTo := make([]int, len(s.rounds)), make([]int, len(s.rounds))
	for {
		mids, total := mids[:0], 0
		for r, round := range s.rounds {
			if w := hi[r] - lo[r]; w > 0 {
				mids = append(mids, mid{round[lo[r]+w/2], w})
				total += w
			}
		}
		slices.SortFunc(mids, func(a, b mid) int { return cmp.Compare(a.v, b.v) })
		pivot, acc := mids[len(mids)-1].v, 0
		for _, m := range mids {
			if acc += m.w; 2*acc >= total {
				pivot = m.v
				break
			}
		}
		less, atMost := 0, 0
		for r, round := range s.rounds {
			w := round[lo[r]:hi[r]]
			below[r] = lo[r] + sort.SearchFloat64s(w, pivot)
			upTo[r] = lo[r] + sort.Search(len(w), func(i int) bool { return w[i] > pivot })
			less += below[r] - lo[r]
			atMost += upTo[r] - lo[r]
		}
		switch {
		case k < less:
			copy(hi, below)
		case k < atMost:
			return pivot
		default:
			k -= atMost
			copy(lo, upTo)
		}
	}
}

// Rounds returns the number of rounds.
func (s *Series) Rounds() int { return len(s.rounds) }

// Count returns the number of samples over every round.
func (s *Series) Count() int { return s.count }

// Round returns round r's samples, sorted.
func (s *Series) Round(r int) []float64 { return s.rounds[r] }

// Value returns statistic stat (see StatNames) over every sample: the
// percentile of the pooled samples (interpolated as Summarize does) or
// their mean.
func (s *Series) Value(stat string) float64 {
	if stat == "mean" {
		return s.mean()
	}
	p, _ := statPercentile(stat)
	return s.percentile(p)
}

func (s *Series) mean() float64 {
	var sum float64
	for _, x := range s.sums {
		sum += x
	}
	return sum / float64(s.count)
}

// statPercentile returns the percentile (0..100) that stat names.
func statPercentile(stat string) (float64, bool) {
	switch stat {
	case "p50":
		return 50, true
	case "p90":
		return 90, true
	case "p95":
		return 95, true
	case "p99":
		return 99, true
	}
	return 0, false
}

// logInfluence returns the logarithm of statistic stat over every sample
// and, for each round, that round's share of the estimate's error: the
// linearised influence of the round on the log statistic (for a
// percentile, how many of the round's samples lie below the estimate
// compared with its share, scaled by the log-sparsity of the samples
// there; for the mean, the round's sum against its share). The estimate's
// variance under round-to-round variation is then the sum of squares of
// these values (times R/(R-1)): the cluster-robust ("sandwich") variance,
// with rounds as clusters.
func (s *Series) logInfluence(stat string) (float64, []float64, error) {
	n := float64(s.count)
	infl := make([]float64, len(s.rounds))
	if stat == "mean" {
		m := s.mean()
		if !(m > 0) {
			return 0, nil, fmt.Errorf("mean latency is %v, not positive", m)
		}
		for r, round := range s.rounds {
			infl[r] = (s.sums[r] - m*float64(len(round))) / (n * m)
		}
		return math.Log(m), infl, nil
	}
	pct, ok := statPercentile(stat)
	if !ok {
		return 0, nil, fmt.Errorf("unknown statistic %q", stat)
	}
	p := pct / 100
	q := s.percentile(pct)
	if !(q > 0) {
		return 0, nil, fmt.Errorf("%s latency is %v, not positive", stat, q)
	}
	// Round r's deviation of its count at or below q from its share; they
	// sum to (nearly) zero, so centre them exactly.
	var total float64
	for r, round := range s.rounds {
		c := float64(sort.Search(len(round), func(i int) bool { return round[i] > q }))
		infl[r] = c - p*float64(len(round))
		total += infl[r]
	}
	var varF float64
	for r, round := range s.rounds {
		infl[r] -= total * float64(len(round)) / n
		infl[r] /= n
		varF += infl[r] * infl[r]
	}
	k := float64(len(s.rounds))
	if k > 1 {
		varF *= k / (k - 1)
	}
	// The sparsity d(log Q)/dp, from the quantiles one confidence
	// half-width of F either side (Woodruff; Francisco and Fuller 1991):
	// the bandwidth follows the clustered variance, and a gap in the
	// samples around q widens the interval as it should.
	h := 1.96 * math.Sqrt(math.Max(varF, p*(1-p)/n))
	lo, hi := math.Max(p-h, 0), math.Min(p+h, 1)
	ql, qh := s.percentile(100*lo), s.percentile(100*hi)
	if !(ql > 0) {
		ql = q
	}
	sparsity := (math.Log(qh) - math.Log(ql)) / (hi - lo)
	for r := range infl {
		infl[r] *= -sparsity
	}
	return math.Log(q), infl, nil
}
