package latency

import "math"

// A sequential gate looks at the data a few times while it is measured and
// stops as soon as the verdict is decided. Looking repeatedly at the same
// growing data and stopping when an interval clears the limit would, with
// fixed 95% intervals, raise the error rate with every look ("rerun until
// it passes"). The gate therefore spends its error rate over the looks: a
// look k that the plan allows spends a share of alpha fixed in advance by
// an error-spending function of the fraction of the rounds done (Lan and
// DeMets 1983), share(t) = t^SpendingPower, and judges with an interval at
// that share. The shares sum to one, so by the union bound the chance that
// any look's interval misses the true overhead is at most alpha whenever
// the gate stops; no assumption on how the looks correlate is needed. The
// last look spends what is left.

// SpendingPower is the exponent of the error-spending function t^p. 8
// spends little early (a look at a third of the rounds may spend 0.02% of
// alpha, at two thirds 4%: an early stop needs a clear result) and keeps
// 77% for the last of five looks over 30 rounds, whose interval is then
// only 6% wider than a fixed design's. In the simulation (sim_test.go,
// -sim.compare, lognormal latencies at the default budget) it stops an
// A/A gate after 21 of 30 rounds on average and passes a true +2% in 81%
// of runs; t^5 stops after 19 rounds but passes 79%, t^3 after 17 and
// 73%, a fixed design after 30 and 84%.
const SpendingPower = 8

// MinLookRounds is the fewest rounds of the first look: the interval's
// error is estimated from the differences between rounds, so it needs
// several.
const MinLookRounds = 8

// Looks returns the rounds after which a gate over rounds planned rounds
// looks: about a third of the way, then every sixth, and at the end; a
// plan of few rounds looks only at the end.
func Looks(rounds int) []int {
	first := max(MinLookRounds, (rounds+2)/3)
	if first >= rounds {
		return []int{rounds}
	}
	step := max(1, (rounds+5)/6)
	var out []int
	for r := first; r < rounds; r += step {
		out = append(out, r)
	}
	return append(out, rounds)
}

// LookShare returns the share of alpha that a look after done of planned
// rounds spends when the previous look (0 for none) was after prev rounds;
// a final look (the plan's last, or the last before the budget ran out)
// spends everything the earlier looks left.
func LookShare(prev, done, planned int, final bool) float64 {
	spent := spend(float64(prev) / float64(planned))
	if final {
		return 1 - spent
	}
	return spend(float64(done)/float64(planned)) - spent
}

func spend(t float64) float64 { return math.Pow(math.Min(t, 1), SpendingPower) }
