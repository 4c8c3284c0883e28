// Package latency holds sluice's latency statistics: raw latency samples,
// percentiles, a log-bucket histogram for charts, the overhead estimate of
// a candidate over a baseline (pooled samples, an error robust to
// round-to-round noise), the sequential overhead gate that judges it, and
// the versioned JSON results file that measure saves and assert-overhead
// reads.
//
// Durations in this package's outputs are milliseconds as float64.
package latency

import (
	"math"
	"slices"
	"time"
)

// Stats are the summary statistics of a set of latencies. Every duration is
// in milliseconds.
type Stats struct {
	Count  int64   `json:"count"`
	TPS    float64 `json:"tps"` // completed operations per second of wall time; 0 when unknown
	Mean   float64 `json:"mean"`
	Stddev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// StatNames are the statistics assert-overhead can compare, in order.
var StatNames = []string{"p50", "p90", "p95", "p99", "mean"}

// Get returns the statistic called name, any key of Map but count
// (milliseconds; tps per second), and whether the name is known.
func (s Stats) Get(name string) (float64, bool) {
	v, ok := s.Map()[name].(float64)
	return v, ok
}

// Map returns the statistics as an output map (milliseconds).
func (s Stats) Map() map[string]any {
	return map[string]any{
		"count": s.Count, "tps": s.TPS, "mean": s.Mean, "stddev": s.Stddev, "min": s.Min,
		"p50": s.P50, "p90": s.P90, "p95": s.P95, "p99": s.P99, "max": s.Max,
	}
}

// Millis converts d to milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summarize computes the statistics of samples; wall, when positive, is the
// elapsed time in which they completed, for TPS. samples is sorted in place.
func Summarize(samples []time.Duration, wall time.Duration) Stats {
	n := len(samples)
	if n == 0 {
		return Stats{}
	}
	slices.Sort(samples)
	var sum float64
	for _, d := range samples {
		sum += Millis(d)
	}
	mean := sum / float64(n)
	var ss float64
	for _, d := range samples {
		x := Millis(d) - mean
		ss += x * x
	}
	s := Stats{
		Count: int64(n), Mean: mean, Min: Millis(samples[0]), Max: Millis(samples[n-1]),
		P50: SortedPercentile(samples, 50), P90: SortedPercentile(samples, 90),
		P95: SortedPercentile(samples, 95), P99: SortedPercentile(samples, 99),
	}
	if n > 1 {
		s.Stddev = math.Sqrt(ss / float64(n-1))
	}
	if wall > 0 {
		s.TPS = float64(n) / wall.Seconds()
	}
	return s
}

// SortedPercentile returns the p-th percentile (0..100) of sorted samples in
// milliseconds.
func SortedPercentile(sorted []time.Duration, p float64) float64 {
	return percentileAt(len(sorted), p, func(i int) float64 { return Millis(sorted[i]) })
}

// PercentileFloat is SortedPercentile for sorted float64 values, in their
// own unit.
func PercentileFloat(sorted []float64, p float64) float64 {
	return percentileAt(len(sorted), p, func(i int) float64 { return sorted[i] })
}

// percentileAt returns the p-th percentile (0..100) of n values of which
// at(i) is the i-th smallest (from 0), interpolating linearly between the
// closest ranks (the definition of R's type 7 and NumPy's default). It
// reads at most two values, each once: at may be costly.
func percentileAt(n int, p float64, at func(i int) float64) float64 {
	if n == 0 {
		return 0
	}
	h := (float64(n) - 1) * p / 100
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return at(n - 1)
	}
	a := at(lo)
	return a + (h-float64(lo))*(at(lo+1)-a)
}
