package latency

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

// The simulation reproduces what measure records and what the gate
// decides. A run measures a baseline and a candidate target in rounds;
// within a round the two alternate execution by execution, so a pair of
// neighbouring samples shares the machine's state. Every latency is
//
//	shape(u) × drift(round) × connection(round, target) × load(round, pair) × (1 + slowdown for the candidate)
//
// drift is the machine's state in a round (shared by both targets),
// connection the placement of a round's fresh connections (one target's
// own), load the state while one pair ran (shared). The gate compares p95
// at max 5% with 95% confidence, as the default plan does.
//
// The default budget (max_duration: 1m, rounds: 30) of a query of about a
// millisecond gives about 800 samples per target and round (24,000 in all); simRounds and
// simPerRound model that.
var (
	simRunsFlag    = flag.Int("sim.runs", 50, "simulated gates per case (the README's tables use 1000)")
	simCompareFlag = flag.Bool("sim.compare", false, "also simulate the estimators and designs the gate does not use, for comparison")
)

const (
	simRounds   = 30
	simPerRound = 900
	simMax      = 0.05
	simAlpha    = 0.05
	simStat     = "p95"
)

type scenario struct {
	name string
	// draw returns one latency (ms) of the shape.
	draw  func(r *rand.Rand) float64
	drift float64 // sd of log drift between rounds
	conn  float64 // sd of log connection effect per round and target
	load  float64 // sd of log load per pair
	// bimodal, when positive, makes a round's samples stall (+1..10 ms)
	// with a probability drawn per round between 0 and bimodal: a
	// machine whose CPUs are oversubscribed.
	bimodal float64
}

var scenarios = []scenario{
	{name: "normal", draw: func(r *rand.Rand) float64 { return math.Max(0.05, 1+0.15*r.NormFloat64()) }, drift: 0.05, conn: 0.01},
	{name: "lognormal", draw: func(r *rand.Rand) float64 { return math.Exp(0.5 * r.NormFloat64()) }, drift: 0.05, conn: 0.01},
	// A floor plus a Pareto tail with infinite variance (alpha 1.8): most
	// queries are fast, a few are very slow.
	{name: "pareto", draw: func(r *rand.Rand) float64 { return 1 + 0.2*math.Pow(1-r.Float64(), -1/1.8) }, drift: 0.05, conn: 0.01},
	// Strong drift between rounds (30%), connections placed 3% apart and
	// load changing pair by pair (20%).
	{name: "drift", draw: func(r *rand.Rand) float64 { return math.Exp(0.5 * r.NormFloat64()) }, drift: 0.3, conn: 0.03, load: 0.2},
	// What this project's shared 2-core machine shows under a load average
	// of 8-10: most executions take their time, a varying share stalls
	// for milliseconds, and p95 falls among the stalls.
	{name: "stalls", draw: func(r *rand.Rand) float64 { return math.Exp(0.1 * r.NormFloat64()) }, drift: 0.05, conn: 0.03, bimodal: 0.2},
}

var simEffects = []float64{0, 0.02, 0.05, 0.10}

// simRun is one simulated measurement: per look, each estimator's estimate.
type simRun struct {
	looks []int                 // rounds at each look
	est   map[string][]Estimate // estimator -> per look
}

type simEstimator struct {
	name string
	at   func(base, cand *Series) Estimate
}

// chosen is the estimator and design the gate uses; the others are
// simulated with -sim.compare.
const chosen = "pooled, normalized / seq t^8"

var estimators = []simEstimator{
	{"pooled, normalized", func(b, c *Series) Estimate {
		e, _, err := Compare([]*Series{b}, []*Series{c}, simStat, true)
		if err != nil {
			panic(err)
		}
		return e[0]
	}},
	{"pooled", func(b, c *Series) Estimate {
		e, _, err := compare([]*Series{b}, []*Series{c}, simStat, true, false)
		if err != nil {
			panic(err)
		}
		return e[0]
	}},
	{"per-round", func(b, c *Series) Estimate { return perRound(b, c, PercentileFloat) }},
	{"per-round HD", func(b, c *Series) Estimate { return perRound(b, c, harrellDavis) }},
}

// perRound is the previous estimator: the statistic of each round, the
// mean of the per-round log ratios, and its error from their spread.
func perRound(b, c *Series, q func([]float64, float64) float64) Estimate {
	return perRoundP(b, c, q, 95)
}

func perRoundP(b, c *Series, q func([]float64, float64) float64, p float64) Estimate {
	k := b.Rounds()
	d := make([]float64, k)
	for r := range k {
		d[r] = math.Log(q(c.Round(r), p) / q(b.Round(r), p))
	}
	m, sd := meanSD(d)
	return Estimate{Log: m, SE: sd / math.Sqrt(float64(k)), DF: float64(k - 1)}
}

var hdWeights sync.Map // n -> []float64 for p95

// harrellDavis is the Harrell-Davis estimate of percentile p of sorted:
// every order statistic weighted by a beta distribution around rank p.
func harrellDavis(sorted []float64, p float64) float64 {
	n := len(sorted)
	w, ok := hdWeights.Load(n)
	if !ok || p != 95 {
		a, b := (p/100)*float64(n+1), (1-p/100)*float64(n+1)
		ws := make([]float64, n)
		prev := 0.0
		for i := 1; i <= n; i++ {
			cur := mathext.RegIncBeta(a, b, float64(i)/float64(n))
			ws[i-1] = cur - prev
			prev = cur
		}
		if p == 95 {
			hdWeights.Store(n, ws)
		}
		w = ws
	}
	var s float64
	for i, x := range w.([]float64) {
		s += x * sorted[i]
	}
	return s
}

func simulateRun(sc scenario, slowdown float64, r *rand.Rand) simRun {
	b, c := &Series{}, &Series{}
	run := simRun{est: map[string][]Estimate{}}
	looks := Looks(simRounds)
	bs, cs := make([]float64, simPerRound), make([]float64, simPerRound)
	next := 0
	for k := 1; k <= simRounds; k++ {
		drift := math.Exp(sc.drift * r.NormFloat64())
		cb, cc := math.Exp(sc.conn*r.NormFloat64()), math.Exp(sc.conn*r.NormFloat64())
		stall := sc.bimodal * r.Float64()
		draw := func() float64 {
			x := sc.draw(r)
			if stall > 0 && r.Float64() < stall {
				x += 1 + 9*r.Float64()
			}
			return x
		}
		for i := range simPerRound {
			load := 1.0
			if sc.load > 0 {
				load = math.Exp(sc.load * r.NormFloat64())
			}
			bs[i] = draw() * drift * cb * load
			cs[i] = draw() * drift * cc * load * (1 + slowdown)
		}
		b.Add(bs)
		c.Add(cs)
		if next < len(looks) && k == looks[next] {
			run.looks = append(run.looks, k)
			for _, e := range simEstimators() {
				run.est[e.name] = append(run.est[e.name], e.at(b, c))
			}
			next++
		}
	}
	return run
}

// simDesign decides a run: a fixed design looks once at the end with the
// whole alpha; a sequential one at every look with its share.
type simDesign struct {
	name  string
	power float64 // 0: fixed
}

var designs = []simDesign{{"seq t^8", SpendingPower}, {"fixed", 0}, {"seq t^3", 3}, {"seq t^5", 5}}

func simEstimators() []simEstimator {
	if *simCompareFlag {
		return estimators
	}
	return estimators[:1]
}

func simDesigns() []simDesign {
	if *simCompareFlag {
		return designs
	}
	return designs[:1]
}

func (d simDesign) decide(run simRun, est []Estimate) (Verdict, int) {
	if d.power == 0 {
		last := len(est) - 1
		return est[last].Interval(simAlpha).Judge(simMax), run.looks[last]
	}
	spent := 0.0
	for k, e := range est {
		share := math.Pow(float64(run.looks[k])/simRounds, d.power) - spent
		if k == len(est)-1 {
			share = 1 - spent
		}
		spent += share
		v := e.Interval(simAlpha * share).Judge(simMax)
		if v != Inconclusive || k == len(est)-1 {
			return v, run.looks[k]
		}
	}
	panic("unreachable")
}

type simCount struct{ pass, inconclusive, fail, rounds, covered int }

func (c *simCount) add(v Verdict, rounds int) {
	switch v {
	case Pass:
		c.pass++
	case Fail:
		c.fail++
	default:
		c.inconclusive++
	}
	c.rounds += rounds
}

// simulate runs n gates of sc with slowdown and counts, per estimator and
// design, the verdicts.
func simulate(sc scenario, slowdown float64, n int, seed uint64) map[string]*simCount {
	r := rand.New(rand.NewPCG(seed, 7))
	out := map[string]*simCount{}
	for range n {
		run := simulateRun(sc, slowdown, r)
		for _, e := range simEstimators() {
			for _, d := range simDesigns() {
				key := e.name + " / " + d.name
				if out[key] == nil {
					out[key] = &simCount{}
				}
				v, rounds := d.decide(run, run.est[e.name])
				out[key].add(v, rounds)
				last := run.est[e.name][len(run.est[e.name])-1].Interval(simAlpha)
				if last.Low <= slowdown && slowdown <= last.High {
					out[key].covered++
				}
			}
		}
	}
	return out
}

// TestSimulatedGate runs the simulation for every scenario and slowdown,
// logs the table of verdicts (per estimator and design with -sim.compare),
// and holds the chosen one (pooled and normalised per round, sequential
// t^8) to what it achieves at 1,000 runs per case, less 2.5 standard
// errors of the runs made (50 by default, to stay quick; the README's
// table is from go test ./steps/latency -run TestSimulatedGate -v
// -sim.runs 1000): at most 1% false fails and 2.5% false passes in every
// scenario; A/A passes and +10% fails in at least 95% of runs for the
// normal, lognormal and Pareto shapes; +2% passes in at least 80% for the
// normal and lognormal ones. Strong drift, a Pareto tail at +2% and the
// stalls of an oversubscribed machine need a longer budget than the
// default (their rows in the table say how far they get).
func TestSimulatedGate(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the simulation in -short mode")
	}
	n := *simRunsFlag
	type cell struct {
		sc     scenario
		effect float64
		counts map[string]*simCount
	}
	var cells []*cell
	var wg sync.WaitGroup
	for i, sc := range scenarios {
		for j, eff := range simEffects {
			c := &cell{sc: sc, effect: eff}
			cells = append(cells, c)
			wg.Go(func() { c.counts = simulate(sc, eff, n, uint64(1000+10*i+j)) })
		}
	}
	wg.Wait()
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "\n%d runs per case; p95 at max 5%%, 95%% confidence; %d rounds x %d samples per target at most\n", n, simRounds, simPerRound)
	fmt.Fprintf(&tbl, "%-10s %-7s %-32s %6s %6s %6s %7s %7s\n", "shape", "true", "estimator / design", "pass", "incon", "fail", "rounds", "cover")
	for _, c := range cells {
		for _, e := range simEstimators() {
			for _, d := range simDesigns() {
				key := e.name + " / " + d.name
				k := c.counts[key]
				fmt.Fprintf(&tbl, "%-10s %+6.0f%% %-32s %6d %6d %6d %7.1f %6.1f%%\n", c.sc.name, 100*c.effect, key,
					k.pass, k.inconclusive, k.fail, float64(k.rounds)/float64(n), 100*float64(k.covered)/float64(n))
			}
		}
	}
	t.Log(tbl.String())
	for _, c := range cells {
		k := c.counts[chosen]
		where := fmt.Sprintf("%s, true overhead %+.0f%%: %d pass, %d inconclusive, %d fail of %d", c.sc.name, 100*c.effect, k.pass, k.inconclusive, k.fail, n)
		// at least p of the runs, less 2.5 standard errors; or at most.
		atLeast := func(x int, p float64) bool { return float64(x)/float64(n) >= p-2.5*math.Sqrt(p*(1-p)/float64(n)) }
		atMost := func(x int, p float64) bool { return float64(x)/float64(n) <= p+2.5*math.Sqrt(p*(1-p)/float64(n)) }
		if c.effect < simMax && !atMost(k.fail, 0.01) {
			t.Errorf("%s: more than 1%% false fails", where)
		}
		if c.effect > simMax && !atMost(k.pass, 0.025) {
			t.Errorf("%s: more than 2.5%% false passes", where)
		}
		shape := c.sc.name == "normal" || c.sc.name == "lognormal" || c.sc.name == "pareto"
		switch {
		case shape && c.effect == 0 && !atLeast(k.pass, 0.95):
			t.Errorf("%s: A/A passes in fewer than 95%% of runs", where)
		case shape && c.effect == 0.10 && !atLeast(k.fail, 0.95):
			t.Errorf("%s: +10%% fails in fewer than 95%% of runs", where)
		case (c.sc.name == "normal" || c.sc.name == "lognormal") && c.effect == 0.02 && !atLeast(k.pass, 0.80):
			t.Errorf("%s: +2%% passes in fewer than 80%% of runs", where)
		}
	}
}

func TestLooks(t *testing.T) {
	for rounds, want := range map[int]string{30: "[10 15 20 25 30]", 8: "[8]", 12: "[8 10 12]", 2: "[2]", 60: "[20 30 40 50 60]"} {
		if got := fmt.Sprint(Looks(rounds)); got != want {
			t.Errorf("Looks(%d) = %s, want %s", rounds, got, want)
		}
	}
	// The shares of a whole plan sum to one.
	looks, prev, sum := Looks(30), 0, 0.0
	for i, r := range looks {
		s := LookShare(prev, r, 30, i == len(looks)-1)
		if want := math.Pow(float64(r)/30, SpendingPower) - math.Pow(float64(prev)/30, SpendingPower); math.Abs(s-want) > 1e-12 {
			t.Errorf("share at %d: %v, want %v", r, s, want)
		}
		sum += s
		prev = r
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("shares sum to %v", sum)
	}
	// Stopped by the budget after 22 rounds: the last look spends the rest.
	if got := LookShare(20, 22, 30, true); math.Abs(got-(1-math.Pow(20.0/30, SpendingPower))) > 1e-12 {
		t.Errorf("final share %v", got)
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
