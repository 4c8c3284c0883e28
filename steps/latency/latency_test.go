package latency

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	st := Summarize(s, 2*time.Second)
	want := map[string]float64{"p50": 50.5, "p90": 90.1, "p95": 95.05, "p99": 99.01, "mean": 50.5, "min": 1, "max": 100}
	for name, w := range want {
		if got, _ := st.Get(name); math.Abs(got-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if st.Count != 100 || st.TPS != 50 || math.Abs(st.Stddev-29.0115) > 1e-3 {
		t.Errorf("count %d tps %v stddev %v", st.Count, st.TPS, st.Stddev)
	}
	if (Summarize(nil, time.Second) != Stats{}) {
		t.Error("no samples should give zero stats")
	}
}

func TestHistogramRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h Histogram
	var samples []time.Duration
	for range 20000 {
		d := time.Duration(math.Exp(r.NormFloat64()*1.5) * float64(time.Millisecond))
		h.Record(d)
		samples = append(samples, d)
	}
	st := Summarize(samples, 0)
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
		exact := Millis(samples[int(math.Ceil(q*float64(len(samples))))-1])
		if got := h.Quantile(q); math.Abs(got/exact-1) > 0.01 {
			t.Errorf("q%.2f: histogram %v, exact %v: more than 1%% apart", q, got, exact)
		}
	}
	var n int64
	for _, b := range h.Buckets() {
		n += b.Count
		if b.High/b.Low > histGrowth+1e-9 && b.Low > 0 {
			t.Errorf("bucket %v..%v wider than %v", b.Low, b.High, histGrowth)
		}
	}
	if n != 20000 || h.Count() != 20000 || st.Count != 20000 {
		t.Errorf("counts %d %d", n, h.Count())
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		iv   Interval
		want Verdict
	}{
		{Interval{0.01, -0.01, 0.05}, Pass},
		{Interval{0.08, 0.051, 0.1}, Fail},
		{Interval{0.05, 0.03, 0.07}, Inconclusive},
	} {
		if got := tc.iv.Judge(0.05); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.iv, got, tc.want)
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "base.json")
	f := &File{
		Settings: Settings{Mode: "extended", Rounds: 2, Queries: []QueryInfo{{Name: "one", SQL: "SELECT 1"}}},
		Targets: map[string]*Target{"plain": {Queries: map[string]*QueryData{
			"one": {Rounds: []Stats{{P95: 1.5}, {P95: 1.7}}, Samples: [][]float64{{1.5, 1}, {1.7}}},
		}}},
	}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := g.Series("plain", g.QueryNames())
	if err != nil || len(v) != 1 || v[0].Rounds() != 2 || v[0].Count() != 3 || v[0].Value("p50") != 1.5 {
		t.Fatalf("series %v, %v", v, err)
	}
	if _, err := g.Series("tls", g.QueryNames()); err == nil || !strings.Contains(err.Error(), `no target "tls" (have [plain])`) {
		t.Errorf("missing target: %v", err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), `"version": 2`, `"version": 9`, 1)), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "version 9 is not supported") {
		t.Errorf("newer version: %v", err)
	}
	os.WriteFile(path, []byte(strings.Replace(string(b), `"version": 2`, `"version": 1`, 1)), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "version 1 keeps no samples") {
		t.Errorf("version 1: %v", err)
	}
	os.WriteFile(path, []byte(`{"format":"other"}`), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "is it a file saved by measure") {
		t.Errorf("wrong format: %v", err)
	}
}

// BenchmarkRecorderOverhead measures what timing one sample costs on top of
// the work: two clock reads and an append. The harness's share of every
// latency is this number (a few tens of nanoseconds; the brief's bound is
// 1 µs). Compare with BenchmarkClockRead, measured in the same run.
func BenchmarkRecorderOverhead(b *testing.B) {
	r := NewRecorder(b.N)
	nop := func() error { return nil }
	b.ResetTimer()
	for range b.N {
		_ = r.Time(nop)
	}
}

// BenchmarkClockRead is the reference for BenchmarkRecorderOverhead: one
// monotonic clock read.
func BenchmarkClockRead(b *testing.B) {
	var t time.Time
	for range b.N {
		t = time.Now()
	}
	_ = t
}

// gridRound returns n latencies spread exactly like a lognormal
// distribution (its quantiles at (i+0.5)/n), times scale.
func gridRound(n int, scale float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		z := -math.Sqrt2 * math.Erfcinv(2*(float64(i)+0.5)/float64(n))
		out[i] = scale * math.Exp(0.4*z)
	}
	return out
}

func TestCompare(t *testing.T) {
	// Two queries, 10 rounds with drift shared by both sides; the
	// candidate is exactly 10% and 20% slower in every round.
	mk := func(factor float64) []*Series {
		var out []*Series
		for q, f := range []float64{1, factor} {
			s := &Series{}
			for r := range 10 {
				s.Add(gridRound(300, float64(q+1)*(1+0.3*float64(r%4))*f))
			}
			out = append(out, s)
		}
		return out
	}
	base := mk(1)
	cand := []*Series{{}, {}}
	for q, f := range []float64{1.1, 1.2} {
		for r := range 10 {
			cand[q].Add(gridRound(300, float64(q+1)*(1+0.3*float64(r%4))*f))
		}
	}
	for _, paired := range []bool{true, false} {
		for _, stat := range StatNames {
			per, all, err := Compare(base, cand, stat, paired)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(per[0].Ratio()-0.1) > 1e-9 || math.Abs(per[1].Ratio()-0.2) > 1e-9 {
				t.Errorf("paired %v %s: ratios %v %v, want 0.1 and 0.2", paired, stat, per[0].Ratio(), per[1].Ratio())
			}
			if want := math.Sqrt(1.1*1.2) - 1; math.Abs(all.Ratio()-want) > 1e-9 {
				t.Errorf("paired %v %s: all queries %v, want the geometric mean %v", paired, stat, all.Ratio(), want)
			}
			iv := all.Interval(0.05)
			if paired && (iv.High-iv.Low > 1e-6 || all.DF != 9) {
				// Every round has the same ratio: paired rounds leave no error.
				t.Errorf("paired %s: interval %v..%v (df %v) for an exact ratio", stat, iv.Low, iv.High, all.DF)
			}
			if !paired && !(iv.Low < all.Ratio() && all.Ratio() < iv.High) {
				t.Errorf("unpaired %s: interval %v..%v around %v", stat, iv.Low, iv.High, all.Ratio())
			}
		}
	}
	one := []*Series{NewSeries(gridRound(10, 1))}
	for _, tc := range []struct {
		b, c []*Series
		want string
	}{
		{one, one, "need at least 2 rounds"},
		{base, cand[:1], "2 baseline and 1 candidate queries"},
		{[]*Series{NewSeries([]float64{0, 0}, []float64{0, 0})}, []*Series{NewSeries([]float64{1}, []float64{1})}, "not positive"},
	} {
		if _, _, err := Compare(tc.b, tc.c, "p95", true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compare: %v, want %q", err, tc.want)
		}
	}
}

func TestGateOutcome(t *testing.T) {
	// A sure 20% on p50 and an undecided +3% ± 4% on p95, of one query.
	out := Outcome{Confidence: 0.95, Verdict: Pass}
	row := func(stat string, e Estimate) Row {
		iv := e.Interval(0.05)
		return Row{Query: "", Stat: stat, Baseline: 1, Candidate: 1 + iv.Ratio, Estimate: e, Interval: iv, Verdict: iv.Judge(0.05), Gating: true}
	}
	undecided := row("p95", Estimate{Log: math.Log(1.03), SE: 0.02, DF: 1000})
	out.add(undecided)
	if out.Verdict != Inconclusive || out.Decided() {
		t.Fatalf("verdict %s", out.Verdict)
	}
	r, leans, factor, ok := out.Lean(0.05)
	hw := math.Log(1.03) - math.Log1p(undecided.Interval.Low)
	if want := math.Pow(hw/(math.Log(1.05)-math.Log(1.03)), 2); !ok || leans != Pass || r.Stat != "p95" || math.Abs(factor-want) > 1e-9 {
		t.Errorf("lean %v %s %v, want pass and %v", ok, leans, factor, want)
	}
	adv := out.Advice(0.05, time.Minute)
	if !strings.Contains(adv, "Undecided: p95 of all queries leans below the 5% limit; about 4.2x the samples would decide it: run again with max_duration: 4m10s") {
		t.Errorf("advice: %s", adv)
	}
	out.add(row("p50", Estimate{Log: math.Log(1.2), SE: 0.01, DF: 1000}))
	if out.Verdict != Fail || !strings.Contains(out.Advice(0.05, time.Minute), "costs more than the 5% limit at p50 of all queries") {
		t.Errorf("verdict %s: %s", out.Verdict, out.Advice(0.05, time.Minute))
	}
	out.add(Row{Query: "q1", Stat: "p95", Baseline: 0.25, Candidate: 0.26, Interval: Interval{0.04, 0.01, 0.07}, Verdict: Inconclusive})
	tab := out.Table()
	for _, want := range []string{"QUERY  STAT  BASELINE  CANDIDATE  OVERHEAD  95% INTERVAL", "(all)  p95   1.00 ms", "q1     p95   0.250 ms  0.260 ms   +4.0%     +1.0% .. +7.0%    (inconclusive)"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	if Confidence(0.95) != "95%" || Confidence(0.99985) != "99.99%" || Confidence(0.9617) != "96.17%" {
		t.Errorf("confidences %s %s %s", Confidence(0.95), Confidence(0.99985), Confidence(0.9617))
	}
	if Limit(0.05) != "5%" || Limit(0.005) != "0.5%" || Limit(0.1) != "10%" {
		t.Errorf("limits %s %s %s", Limit(0.05), Limit(0.005), Limit(0.1))
	}
}

// TestSeriesPercentile checks the percentiles a series selects from its
// sorted rounds against sorting every sample, ties and uneven rounds
// included.
func TestSeriesPercentile(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 50 {
		s := &Series{}
		var all []float64
		for range 1 + r.IntN(20) {
			round := make([]float64, r.IntN(50))
			for i := range round {
				round[i] = float64(r.IntN(30)) // many ties
				if trial%2 == 1 {
					round[i] = r.ExpFloat64()
				}
			}
			s.Add(round)
			all = append(all, round...)
		}
		slices.Sort(all)
		for _, p := range []float64{0, 1, 49.5, 50, 90, 95, 99, 100} {
			if got, want := s.percentile(p), PercentileFloat(all, p); got != want {
				t.Fatalf("trial %d, p%v of %d samples: %v, want %v", trial, p, len(all), got, want)
			}
		}
	}
}
