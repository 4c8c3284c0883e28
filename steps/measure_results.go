package steps

import (
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
)

// measureAcc accumulates the turns of a measure run.
type measureAcc struct {
	queries []string
	targets map[string]*targetAcc
}

type targetAcc struct {
	wall    time.Duration
	samples [][]time.Duration // per query, every round
	rounds  [][]latency.Stats // per query, one per round
}

func newMeasureAcc(m *Measure, names []string) *measureAcc {
	a := &measureAcc{targets: map[string]*targetAcc{}}
	for _, q := range m.Queries {
		a.queries = append(a.queries, q.Name)
	}
	for _, n := range names {
		a.targets[n] = &targetAcc{samples: make([][]time.Duration, len(a.queries)), rounds: make([][]latency.Stats, len(a.queries))}
	}
	return a
}

// add records one turn of target name: latencies per query and wall time.
func (a *measureAcc) add(name string, samples [][]time.Duration, wall time.Duration) {
	t := a.targets[name]
	t.wall += wall
	for q, s := range samples {
		t.rounds[q] = append(t.rounds[q], latency.Summarize(s, wall))
		t.samples[q] = append(t.samples[q], s...)
	}
}

// fill writes the statistics into f.
func (a *measureAcc) fill(f *latency.File) {
	for name, t := range a.targets {
		var all []time.Duration
		var h latency.Histogram
		tg := &latency.Target{Queries: map[string]*latency.QueryData{}}
		for q, qn := range a.queries {
			for _, d := range t.samples[q] {
				h.Record(d)
			}
			all = append(all, t.samples[q]...)
			tg.Queries[qn] = &latency.QueryData{Summary: latency.Summarize(t.samples[q], t.wall), Rounds: t.rounds[q]}
		}
		tg.Summary = latency.Summarize(all, t.wall)
		tg.Histogram = h.Buckets()
		f.Targets[name] = tg
	}
}

// measureOutputs turns a results file into step outputs.
func measureOutputs(f *latency.File, names []string) runner.Outputs {
	targets, queries, rounds, versions := map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}
	var count int64
	for _, qn := range f.QueryNames() {
		queries[qn] = map[string]any{}
	}
	for _, name := range names {
		t := f.Targets[name]
		count += t.Summary.Count
		m := t.Summary.Map()
		hist := make([]any, len(t.Histogram))
		for i, b := range t.Histogram {
			hist[i] = map[string]any{"low": b.Low, "high": b.High, "count": b.Count}
		}
		m["histogram"] = hist
		targets[name] = m
		perQuery := map[string]any{}
		for _, qn := range f.QueryNames() {
			qd := t.Queries[qn]
			queries[qn].(map[string]any)[name] = qd.Summary.Map()
			list := make([]any, len(qd.Rounds))
			for i, s := range qd.Rounds {
				list[i] = map[string]any{"count": s.Count, "mean": s.Mean, "p50": s.P50, "p90": s.P90, "p95": s.P95, "p99": s.P99, "max": s.Max}
			}
			perQuery[qn] = list
		}
		rounds[name] = perQuery
		versions[name] = f.ServerVersions[name]
	}
	order := make([]any, len(f.Order))
	for i, o := range f.Order {
		order[i] = strings.Join(o, ",")
	}
	return runner.Outputs{
		"targets": targets, "queries": queries, "rounds": rounds, "order": order,
		"server_versions": versions, "count": count,
	}
}
