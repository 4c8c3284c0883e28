package steps

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"gopkg.in/yaml.v3"
)

// writeResults writes a results file with targets base and cand, queries
// q1 and q2, and 12 rounds of 200 samples each: the same lognormal shape
// every round, scaled by a drift shared by both targets; cand is base
// times factors[q] and times 1 ± noise in alternate rounds.
func writeResults(t *testing.T, factors [2]float64, noise float64) string {
	t.Helper()
	f := &latency.File{Settings: latency.Settings{Queries: []latency.QueryInfo{{Name: "q1"}, {Name: "q2"}}}, Targets: map[string]*latency.Target{},
		Run: latency.RunInfo{Seconds: 12, Rounds: 12, Stopped: latency.StoppedRounds}}
	for _, name := range []string{"base", "cand"} {
		tg := &latency.Target{Queries: map[string]*latency.QueryData{}}
		for qi, q := range []string{"q1", "q2"} {
			qd := &latency.QueryData{}
			for r := range 12 {
				scale := float64(qi+1) * (1 + 0.1*float64(r%3))
				if name == "cand" {
					scale *= factors[qi] * (1 + noise*float64(1-2*(r%2)))
				}
				var round []float64
				for i := range 200 {
					z := -math.Sqrt2 * math.Erfcinv(2*(float64(i)+0.5)/200)
					round = append(round, scale*math.Exp(0.3*z))
				}
				qd.Samples = append(qd.Samples, round)
			}
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

// overheadParams binds assert-overhead's parameters as a plan's step gets
// them: results r.json and the entries of the flow mapping with.
func overheadParams(with string) (*AssertOverhead, error) {
	d, _ := Builtin().Lookup("assert-overhead")
	entries := "results: r.json"
	if inner := strings.TrimSpace(strings.Trim(with, "{}")); inner != "" {
		entries += ", " + inner
	}
	v, err := runner.DecodeParams(d, "{"+entries+"}")
	if err != nil {
		return nil, err
	}
	return v.(*AssertOverhead), nil
}

func TestAssertOverheadVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name           string
		factors        [2]float64
		noise          float64
		with           string
		verdict, inErr string // inErr empty: the step succeeds
	}{
		{"same", [2]float64{1, 1}, 0.01, "{}", "pass", ""},
		{"20% slower", [2]float64{1.2, 1.2}, 0.01, "{}", "fail", "p95 of all queries: +20.0% [+"},
		// The geometric mean of 1.04 x 1.2 and 1.04 x 0.8 is +1.9%.
		{"noisy", [2]float64{1.04, 1.04}, 0.2, "{}", "inconclusive", "p95 of all queries: +1.9% [-9.8%, +15.1%] inconclusive (Undecided: p95 of all queries leans below the 5% limit; about"},
		{"noisy allowed", [2]float64{1.04, 1.04}, 0.2, "on_inconclusive: pass", "inconclusive", ""},
		{"not enforced", [2]float64{1.2, 1.2}, 0.01, "enforce: false", "fail", ""},
		{"p50 and mean", [2]float64{1.2, 1.2}, 0.01, "stat: [p50, mean]", "fail", "p50 of all queries: +20.0%"},
		// One query 8% slower, the other not: the workload passes (+3.9%),
		// unless every query must pass on its own.
		{"one query slower", [2]float64{1.08, 1}, 0.01, "{}", "pass", ""},
		{"one query slower, per query", [2]float64{1.08, 1}, 0.01, "per_query: true", "fail", "p95 of q1: +8.0% ["},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := overheadParams("{baseline: base, candidate: cand, " + strings.Trim(tc.with, "{}") + "}")
			if err != nil {
				t.Fatal(err)
			}
			a.Results = writeResults(t, tc.factors, tc.noise)
			outs, err := a.Run(context.Background(), &runner.StepContext{ID: "overhead", Logger: hclog.NewNullLogger()})
			if tc.inErr != "" {
				var ge *runner.GateError
				if !errors.As(err, &ge) || !strings.Contains(err.Error(), tc.inErr) {
					t.Fatalf("want a gate error with %q, got %v", tc.inErr, err)
				}
				if len(err.Error()) > 400 {
					t.Errorf("the gate error is %d characters long; the long text belongs in the report:\n%s", len(err.Error()), err)
				}
			} else if err != nil {
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
			if tc.verdict == "inconclusive" && (outs["leans"] != "pass" || !(outs["more"].(float64) > 1)) {
				t.Errorf("inconclusive: leans %v, more %v; want it to lean pass and need more samples", outs["leans"], outs["more"])
			}
			if tab := outs["table"].(string); !strings.Contains(tab, "(all)") || !strings.Contains(tab, "q2") || outs["samples"] != int64(2*12*200) {
				t.Errorf("table or samples: %v\n%s", outs["samples"], tab)
			}
		})
	}
}

func TestAssertOverheadParams(t *testing.T) {
	for _, tc := range []struct{ with, want string }{
		{"{baseline: a, candidate: a}", "for an A/A check, measure the same connection string under two target names"},
		{"{candidate: a}", "baseline: name the baseline target"},
		{"{baseline: a, candidate: b, stat: P95}", `with.stat: "P95" is not one of p50, p90, p95, p99, mean (did you mean "p95"?)`},
		{"{baseline: a, candidate: b, stat: [p50, maen]}", `with.stat[1]: "maen" is not one of p50, p90, p95, p99, mean (did you mean "mean"?)`},
		{"{baseline: a, candidate: b, on_inconclusive: maybe}", `with.on_inconclusive: "maybe" is not one of fail, pass`},
		{"{baseline: a, candidate: b, confidence: 95}", "confidence: 95"},
		{"{baseline: a, candidate: b, stat: []}", "stat: give at least one"},
	} {
		if _, err := overheadParams(tc.with); err == nil || !strings.Contains(err.Error(), tc.want) {
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
		return &Measure{Targets: map[string]string{"a": "postgres://x", "b": "postgres://y"}, Queries: []MeasureQuery{{SQL: "SELECT 1"}},
			Warmup: 1, Rounds: 2, MaxDuration: runner.Duration{Clock: time.Second}, Concurrency: 1, Mode: "extended"}
	}
	m := ok()
	if err := m.Validate(); err != nil || m.Queries[0].Name != "q1" {
		t.Fatalf("%v, name %q", err, m.Queries[0].Name)
	}
	const base = "targets: {a: postgres://x, b: postgres://y}, queries: [SELECT 1]"
	m = params[Measure](t, "measure", "{"+base+", until: {baseline: a, candidate: b}}")
	if m.Until.Max != 0.05 || m.Until.Confidence != 0.95 || m.Until.Stat[0] != "p95" {
		t.Fatalf("until defaults: %+v", m.Until)
	}
	d, _ := Builtin().Lookup("measure")
	for with, want := range map[string]string{
		"mode: prepare": `with.mode: "prepare" is not one of simple, extended, prepared (did you mean "prepared"?)`,
		"until: {baseline: a, candidate: b, stat: p59}": `with.until.stat: "p59" is not one of p50, p90, p95, p99, mean`,
	} {
		if _, err := runner.DecodeParams(d, "{"+base+", "+with+"}"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", with, err, want)
		}
	}
	for _, tc := range []struct {
		edit func(*Measure)
		want string
	}{
		{func(m *Measure) { m.Targets = map[string]string{"a.b": "x"} }, `name "a.b"`},
		{func(m *Measure) { m.Queries = append(m.Queries, MeasureQuery{Name: "q1", SQL: "x"}) }, `"q1" is used twice`},
		{func(m *Measure) { m.Queries[0].SQL = " " }, "sql is empty"},
		{func(m *Measure) { m.Rounds = 0 }, "rounds: 0"},
		{func(m *Measure) { m.MaxDuration = runner.Duration{} }, "max_duration: 0s: give a positive budget"},
		{func(m *Measure) { m.Until = &MeasureUntil{Baseline: "a"} }, "until: name the baseline and the candidate"},
		{func(m *Measure) { m.Until = &MeasureUntil{Baseline: "a", Candidate: "bb"} }, `until.candidate: "bb" is not a target (did you mean "b"?)`},
		{func(m *Measure) { m.Until = &MeasureUntil{Baseline: "a", Candidate: "b", Confidence: 0.95} }, "until.stat: give at least one"},
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
}
