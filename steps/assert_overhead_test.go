package steps

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"gopkg.in/yaml.v3"
)

// writeResults writes a results file with targets base and cand whose
// per-round p95 are base values times factor, with small alternating noise.
func writeResults(t *testing.T, factor, noise float64) string {
	t.Helper()
	f := &latency.File{Settings: latency.Settings{Queries: []latency.QueryInfo{{Name: "q1"}, {Name: "q2"}}}, Targets: map[string]*latency.Target{}}
	for _, name := range []string{"base", "cand"} {
		tg := &latency.Target{Queries: map[string]*latency.QueryData{}}
		for qi, q := range []string{"q1", "q2"} {
			qd := &latency.QueryData{}
			for r := range 12 {
				v := float64(qi+1) * (1 + 0.1*float64(r%3))
				if name == "cand" {
					v *= factor * (1 + noise*float64(1-2*(r%2)))
				}
				qd.Rounds = append(qd.Rounds, latency.Stats{P95: v, P50: v / 2, Mean: v / 2})
			}
			qd.Summary = qd.Rounds[0]
			tg.Queries[q] = qd
		}
		f.Targets[name] = tg
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func newAssertOverhead(t *testing.T, with string) *AssertOverhead {
	t.Helper()
	a := &AssertOverhead{}
	// The defaults of the struct tags, as the runner applies them.
	for _, kv := range []string{"stat: [p95]", "max: 5%", "confidence: 0.95", "on_inconclusive: fail", "enforce: true", "resamples: 1000", "seed: 1", with} {
		if err := yaml.Unmarshal([]byte(kv), a); err != nil {
			t.Fatalf("%s: %v", kv, err)
		}
	}
	return a
}

func TestAssertOverheadVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name           string
		factor, noise  float64
		with           string
		verdict, inErr string // inErr empty: the step succeeds
	}{
		{"same", 1, 0.01, "{}", "pass", ""},
		{"20% slower", 1.2, 0.01, "{}", "fail", `query "q1" p95: overhead +20.0%`},
		{"noisy", 1.04, 0.2, "{}", "inconclusive", "inconclusive: the interval straddles the limit; measure more rounds (now 12)"},
		{"noisy allowed", 1.04, 0.2, "on_inconclusive: pass", "inconclusive", ""},
		{"not enforced", 1.2, 0.01, "enforce: false", "fail", ""},
		{"p50 and mean", 1.2, 0.01, "stat: [p50, mean]", "fail", "p50: overhead +20.0%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAssertOverhead(t, tc.with)
			a.Results, a.Baseline, a.Candidate = writeResults(t, tc.factor, tc.noise), "base", "cand"
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			outs, err := a.Run(context.Background(), &runner.StepContext{ID: "overhead"})
			if tc.inErr != "" {
				var ge *runner.GateError
				if !errors.As(err, &ge) || !strings.Contains(err.Error(), tc.inErr) {
					t.Fatalf("want a gate error with %q, got %v", tc.inErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if outs["verdict"] != tc.verdict {
				t.Errorf("verdict %v, want %s: %v", outs["verdict"], tc.verdict, outs["message"])
			}
			q1 := outs["queries"].(map[string]any)["q1"].(map[string]any)
			for _, s := range a.Stat {
				if _, ok := outs[s].(map[string]any)["ci_high"].(float64); !ok {
					t.Errorf("no %s.ci_high output", s)
				}
				if _, ok := q1[s].(map[string]any)["verdict"].(string); !ok {
					t.Errorf("no queries.q1.%s.verdict output", s)
				}
			}
		})
	}
}

func TestAssertOverheadParams(t *testing.T) {
	for _, tc := range []struct{ with, want string }{
		{"{baseline: a, candidate: a}", "for an A/A check, measure the same connection string under two target names"},
		{"{candidate: a}", "baseline: name the baseline target"},
		{"{baseline: a, candidate: b, stat: p59}", `"p59" is not one of p50, p90, p95, p99, mean`},
		{"{baseline: a, candidate: b, on_inconclusive: maybe}", "on_inconclusive"},
		{"{baseline: a, candidate: b, confidence: 95}", "confidence: 95"},
	} {
		a := newAssertOverhead(t, tc.with)
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.with, err, tc.want)
		}
	}
	for in, want := range map[string]float64{"5%": 0.05, "0.5 %": 0.005, "0.05": 0.05, "0": 0} {
		var r Ratio
		if err := yaml.Unmarshal([]byte(in), &r); err != nil || float64(r) != want {
			t.Errorf("%q: %v %v, want %v", in, r, err, want)
		}
	}
	var r Ratio
	if err := yaml.Unmarshal([]byte("5"), &r); err == nil || !strings.Contains(err.Error(), "ambiguous: write 5% for percent") {
		t.Errorf("5: %v", err)
	}
}

func TestMeasureParams(t *testing.T) {
	ok := func() *Measure {
		return &Measure{Targets: map[string]string{"a": "postgres://x"}, Queries: []MeasureQuery{{SQL: "SELECT 1"}},
			Warmup: 1, Iterations: 1, Rounds: 1, Concurrency: 1, Mode: "extended"}
	}
	m := ok()
	if err := m.Validate(); err != nil || m.Queries[0].Name != "q1" {
		t.Fatalf("%v, name %q", err, m.Queries[0].Name)
	}
	for _, tc := range []struct {
		edit func(*Measure)
		want string
	}{
		{func(m *Measure) { m.Mode = "prepare" }, `did you mean "prepared"`},
		{func(m *Measure) { m.Targets = map[string]string{"a.b": "x"} }, `name "a.b"`},
		{func(m *Measure) { m.Queries = append(m.Queries, MeasureQuery{Name: "q1", SQL: "x"}) }, `"q1" is used twice`},
		{func(m *Measure) { m.Queries[0].SQL = " " }, "sql is empty"},
		{func(m *Measure) { m.Rounds = 0 }, "rounds: 0"},
		{func(m *Measure) { m.Iterations = 0 }, "or a duration"},
	} {
		m := ok()
		tc.edit(m)
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
	var q []MeasureQuery
	if err := yaml.Unmarshal([]byte("[SELECT 1, {name: n, sql: x, args: [1]}]"), &q); err != nil || q[0].SQL != "SELECT 1" || q[1].Name != "n" || len(q[1].Args) != 1 {
		t.Errorf("queries: %+v %v", q, err)
	}
	if err := yaml.Unmarshal([]byte("[{nam: n, sql: x}]"), &q); err == nil || !strings.Contains(err.Error(), `query field "nam" not recognised`) {
		t.Errorf("typo: %v", err)
	}
	if got := roundOrder([]string{"a", "b", "c"}, 1); strings.Join(got, "") != "cba" {
		t.Errorf("odd round order %v", got)
	}
}
