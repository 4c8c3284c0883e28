package latency

import (
	"math"
	"slices"
	"time"
)

// histGrowth is the ratio between the bounds of consecutive buckets. A value
// reported as its bucket's geometric midpoint is then within
// sqrt(histGrowth)-1 < 1% of the true value.
const histGrowth = 1.02

// histFloor is the lower bound of the first log bucket; smaller latencies
// share bucket 0.
const histFloor = time.Microsecond

// Histogram counts latencies in logarithmic buckets (each 2% wider than the
// previous, so any value it reports is within 1% of a recorded one). It is
// for charts and for merging runs; statistics come from the raw samples.
// The zero value is empty and ready to use.
type Histogram struct {
	counts map[int]int64
	total  int64
}

// Bucket is one non-empty histogram bucket: latencies in (Low, High]
// milliseconds.
type Bucket struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Count int64   `json:"count"`
}

var logGrowth = math.Log(histGrowth)

func bucketOf(d time.Duration) int {
	if d <= histFloor {
		return 0
	}
	return 1 + int(math.Log(float64(d)/float64(histFloor))/logGrowth)
}

func bucketBounds(i int) (lo, hi float64) {
	if i == 0 {
		return 0, Millis(histFloor)
	}
	base := Millis(histFloor)
	return base * math.Pow(histGrowth, float64(i-1)), base * math.Pow(histGrowth, float64(i))
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if h.counts == nil {
		h.counts = map[int]int64{}
	}
	h.counts[bucketOf(d)]++
	h.total++
}

// Count returns the number of recorded latencies.
func (h *Histogram) Count() int64 { return h.total }

// Buckets returns the non-empty buckets in increasing order.
func (h *Histogram) Buckets() []Bucket {
	keys := make([]int, 0, len(h.counts))
	for k := range h.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Bucket, len(keys))
	for i, k := range keys {
		lo, hi := bucketBounds(k)
		out[i] = Bucket{Low: lo, High: hi, Count: h.counts[k]}
	}
	return out
}

// Quantile returns the q-th quantile (0..1) in milliseconds as the
// geometric midpoint of the bucket holding it: within 1% of the sample at
// that rank.
func (h *Histogram) Quantile(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for _, b := range h.Buckets() {
		seen += b.Count
		if seen >= rank {
			if b.Low == 0 {
				return b.High
			}
			return math.Sqrt(b.Low * b.High)
		}
	}
	return 0
}
