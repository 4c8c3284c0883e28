package latency

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
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
