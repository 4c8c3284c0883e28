package latency

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The simulation reproduces what measure records: every round runs the
// baseline and the candidate back to back (so they share the round's drift),
// each turn draws `iters` latencies from a shape, and the gate compares the
// per-round p95 at max 5%. Settings are what the README advises for a gate:
// 30 rounds of 1,000 iterations.
const (
	simRuns   = 1000
	simRounds = 30
	simIters  = 1000
	simMax    = 0.05
)

type shape struct {
	name     string
	quantile func(u float64) float64 // the latency (ms) at probability u
}

var shapes = []shape{
	{"normal", func(u float64) float64 { return math.Max(0.05, 1+0.15*normQuantile(u)) }},
	{"lognormal", func(u float64) float64 { return math.Exp(0.5 * normQuantile(u)) }},
	// A floor plus a Pareto tail with infinite variance (alpha 1.8): most
	// queries are fast, a few are very slow.
	{"pareto", func(u float64) float64 { return 1 + 0.2*math.Pow(1-u, -1/1.8) }},
}

func normQuantile(u float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*u) }

// sampleP95 draws the p95 (type 7, as Summarize computes it) of simIters
// latencies of shape sh, scaled. Rather than drawing 1,000 latencies and
// sorting them, it draws the two order statistics the p95 interpolates
// between, exactly: the k-th smallest of n uniforms is Beta(k, n+1-k), and
// given it, the next one is the minimum of the n-k uniforms above it. This
// keeps 6,000 simulated gates within seconds; TestSampleP95MatchesSummarize
// checks it against Summarize.
func sampleP95(r *rand.Rand, sh shape, scale float64) float64 {
	h := float64(simIters-1) * 0.95
	k := int(h) + 1 // 1-based rank of the lower order statistic
	g1, g2 := gamma(r, float64(k)), gamma(r, float64(simIters+1-k))
	u1 := g1 / (g1 + g2)
	u2 := u1 + (1-u1)*(1-math.Pow(r.Float64(), 1/float64(simIters-k)))
	lo, hi := sh.quantile(u1), sh.quantile(u2)
	return scale * (lo + (h-float64(k-1))*(hi-lo))
}

// gamma draws from Gamma(a, 1), a >= 1 (Marsaglia and Tsang, 2000).
func gamma(r *rand.Rand, a float64) float64 {
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		if math.Log(r.Float64()) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// simulate returns how many of simRuns gates failed, passed and were
// inconclusive when the candidate is `slowdown` slower at every latency, and
// how many intervals covered the true overhead.
func simulate(sh shape, slowdown float64, seed uint64) (fail, pass, inconclusive, covered int) {
	r := rand.New(rand.NewPCG(seed, 7))
	base, cand := [][]float64{make([]float64, simRounds)}, [][]float64{make([]float64, simRounds)}
	turn := func(scale float64) float64 { return sampleP95(r, sh, scale) }
	for run := range simRuns {
		for k := range simRounds {
			drift := math.Exp(0.05 * r.NormFloat64())                            // machine load of this round, shared
			jitter := func() float64 { return math.Exp(0.01 * r.NormFloat64()) } // per turn
			if k%2 == 0 {
				base[0][k] = turn(drift * jitter())
				cand[0][k] = turn(drift * jitter() * (1 + slowdown))
			} else {
				cand[0][k] = turn(drift * jitter() * (1 + slowdown))
				base[0][k] = turn(drift * jitter())
			}
		}
		_, agg, err := Estimate(base, cand, EstimateOptions{Confidence: 0.95, Resamples: 500, Seed: uint64(run), Paired: true})
		if err != nil {
			panic(err)
		}
		if agg.Low <= slowdown && slowdown <= agg.High {
			covered++
		}
		switch agg.Judge(simMax) {
		case Fail:
			fail++
		case Pass:
			pass++
		default:
			inconclusive++
		}
	}
	return
}

func TestSimulatedGate(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 6,000-run simulation in -short mode")
	}
	for i, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			fail, pass, inc, cov := simulate(sh, 0, uint64(100+i))
			t.Logf("A/A: %d fail, %d pass, %d inconclusive, %d intervals cover 0, of %d", fail, pass, inc, cov, simRuns)
			if fail > simRuns/100 {
				t.Errorf("A/A: the gate failed %d of %d runs; want at most 1%%", fail, simRuns)
			}
			// A 95% interval must be honest, not only far from 5%.
			if cov < simRuns*92/100 {
				t.Errorf("A/A: only %d of %d 95%% intervals covered the true overhead 0", cov, simRuns)
			}
			fail, pass, inc, cov = simulate(sh, 0.10, uint64(200+i))
			t.Logf("10%% slower: %d fail, %d pass, %d inconclusive, %d intervals cover 0.10, of %d", fail, pass, inc, cov, simRuns)
			if fail < simRuns*95/100 {
				t.Errorf("10%% slowdown: the gate failed only %d of %d runs; want at least 95%%", fail, simRuns)
			}
			if cov < simRuns*92/100 {
				t.Errorf("10%% slowdown: only %d of %d 95%% intervals covered the true overhead 0.10", cov, simRuns)
			}
		})
	}
}

// TestSampleP95MatchesSummarize checks the simulation's shortcut: the mean
// and spread of sampleP95 agree with Summarize over real samples.
func TestSampleP95MatchesSummarize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]time.Duration, simIters)
	for _, sh := range shapes {
		var fast, slow []float64
		for range 2000 {
			fast = append(fast, sampleP95(r, sh, 1))
			for i := range buf {
				buf[i] = time.Duration(sh.quantile(r.Float64()) * float64(time.Millisecond))
			}
			slow = append(slow, Summarize(buf, 0).P95)
		}
		mf, sf := meanSD(fast)
		ms, ss := meanSD(slow)
		if math.Abs(mf/ms-1) > 0.005 || math.Abs(sf/ss-1) > 0.1 {
			t.Errorf("%s: shortcut p95 mean %.4f sd %.4f, full samples mean %.4f sd %.4f", sh.name, mf, sf, ms, ss)
		}
	}
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}
