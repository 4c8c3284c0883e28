package latency

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Table formats the outcome as a short text table, one row per query and
// statistic (the workload's rows first): baseline, candidate, overhead,
// interval and verdict. Verdicts of rows that do not gate are in
// parentheses.
func (o Outcome) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "QUERY\tSTAT\tBASELINE\tCANDIDATE\tOVERHEAD\t%s INTERVAL\tVERDICT\n", Confidence(o.Confidence))
	for _, r := range o.Rows {
		q := r.Query
		if q == "" {
			q = "(all)"
		}
		v := string(r.Verdict)
		if !r.Gating {
			v = "(" + v + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s .. %s\t%s\n", q, r.Stat, ms(r.Baseline), ms(r.Candidate),
			Pct(r.Interval.Ratio), Pct(r.Interval.Low), Pct(r.Interval.High), v)
	}
	_ = tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}

func ms(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f ms", x)
	case x >= 10:
		return fmt.Sprintf("%.1f ms", x)
	case x >= 1:
		return fmt.Sprintf("%.2f ms", x)
	}
	return fmt.Sprintf("%.3f ms", x)
}

// Advice is one sentence that tells the operator what the outcome means
// and what to do. took is how long the candidate was measured (0 when
// unknown).
func (o Outcome) Advice(max float64, took time.Duration) string {
	limit := Limit(max)
	switch o.Verdict {
	case Pass:
		return fmt.Sprintf("The candidate is within the %s limit at every gated statistic (%s confidence): nothing to do.", limit, Confidence(o.Confidence))
	case Fail:
		worst := Row{}
		for _, r := range o.Rows {
			if r.Gating && r.Verdict == Fail && (worst.Stat == "" || r.Interval.Low > worst.Interval.Low) {
				worst = r
			}
		}
		return fmt.Sprintf("The candidate costs more than the %s limit at %s: find and remove that cost before it ships, or raise max if it is accepted.", limit, worst.name())
	}
	row, leans, factor, _ := o.Lean(max)
	side := "below"
	if leans == Fail {
		side = "above"
	}
	s := fmt.Sprintf("Undecided: %s leans %s the %s limit", row.name(), side, limit)
	switch {
	case math.IsInf(factor, 1) || factor > 100:
		return s + "; it sits so close to the limit that no practical budget decides it: accept it with on_inconclusive: pass, or change max."
	case took > 0:
		need := time.Duration(factor * float64(took)).Round(time.Second)
		return s + fmt.Sprintf("; about %.1fx the samples would decide it: run again with max_duration: %s, or on a quieter machine.", factor, need)
	}
	return s + fmt.Sprintf("; about %.1fx the samples would decide it: measure longer.", factor)
}

// Limit formats a ratio limit as a plain percentage: 0.05 is "5%".
func Limit(max float64) string {
	return strconv.FormatFloat(math.Round(100*max*1e6)/1e6, 'f', -1, 64) + "%"
}

// Confidence formats a confidence level as a percentage with at most two
// decimals: 0.95 is "95%", 0.99985 "99.99%".
func Confidence(c float64) string {
	return strconv.FormatFloat(math.Round(c*1e4)/100, 'f', -1, 64) + "%"
}
