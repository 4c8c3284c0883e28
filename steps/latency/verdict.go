package latency

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
