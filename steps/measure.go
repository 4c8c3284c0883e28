package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/reportview"
	"github.com/sluice-dev/sluice/steps/workload"
	"gopkg.in/yaml.v3"
)

func measureDefinition() runner.Definition {
	return runner.Definition{
		Type: "measure",
		Kind: runner.KindAction,
		Summary: "Benchmark query latency on one or more PostgreSQL targets within a time budget: rounds on fresh connections, " +
			"the targets interleaved execution by execution, optionally until an overhead gate is decided; durations in milliseconds",
		New:     func() any { return &Measure{} },
		Section: reportview.Measure,
		Outputs: []runner.OutputSpec{
			{Name: "targets", Type: "map", Doc: "per target, every query together: count, tps (executions per second of the interleaved run), and mean, stddev, min, p50, p90, p95, p99, max " +
				"in milliseconds (float), plus histogram: [{low, high, count}] log buckets in milliseconds (e.g. steps.bench.targets.tls.p95)"},
			{Name: "queries", Type: "map", Doc: "per query name, then per target: the same statistics without the histogram (e.g. steps.bench.queries.one.tls.p95)"},
			{Name: "rounds", Type: "map", Doc: "per target, then per query: a list with one entry per round of count, mean, p50, p90, p95, p99 and max (milliseconds)"},
			{Name: "server_versions", Type: "map", Doc: "per target, the server_version the server reported"},
			{Name: "count", Type: "int", Doc: "timed executions over every target and query"},
			{Name: "seconds", Type: "number", Doc: "how long the measurement took, connecting, warming up and looking included"},
			{Name: "rounds_done", Type: "int", Doc: "rounds measured (fewer than rounds when until decided early or max_duration ran out)"},
			{Name: "stopped", Type: "string", Doc: "why measuring ended: decided (the until gate had its verdict), budget (max_duration was spent) or rounds (every round ran)"},
			{Name: "verdict", Type: "string", Doc: "with until: the gate's verdict at the last look (pass, fail or inconclusive; assert-overhead gives the final one); empty otherwise"},
			{Name: "looks", Type: "list", Doc: "with until: each look as {rounds, verdict, share} (share: the part of the error rate the look spent)"},
			{Name: "file", Type: "string", Doc: "the results file (versioned JSON with every sample): save: when given, else one in the run folder; give it to assert-overhead's results"},
		},
	}
}

// Measure is the parameter struct of the measure step.
type Measure struct {
	Targets        map[string]string `yaml:"targets" required:"true" doc:"named connection strings, e.g. {plain: \"postgres://...?sslmode=disable\", tls: \"postgres://...?sslmode=require\"}"`
	Queries        []MeasureQuery    `yaml:"queries" required:"true" doc:"the workload: a list of SQL strings or {name, sql, args} mappings; unnamed queries are q1, q2, ..."`
	MaxDuration    runner.Duration   `yaml:"max_duration" default:"1m" doc:"time budget of the whole measurement (connecting, warming up and judging included), split evenly over the rounds; with until, measuring ends as soon as the gate is decided"`
	Rounds         int               `yaml:"rounds" default:"30" doc:"rounds; every round opens fresh connections, warms them up and runs the targets interleaved, execution by execution (A B, B A, ...), so that drift hits all alike; 20 or more for a gate"`
	Iterations     int               `yaml:"iterations" doc:"instead of filling each round's share of max_duration: executions of each query per target in every round (over all clients); max_duration still ends the measurement"`
	Warmup         int               `yaml:"warmup" default:"5" doc:"untimed executions of each query per client and target at the start of every round"`
	Concurrency    int               `yaml:"concurrency" default:"1" doc:"clients running at the same time; each holds a connection to every target"`
	Mode           string            `yaml:"mode" default:"extended" enum:"simple,extended,prepared" doc:"protocol: simple (simple query protocol), extended (unnamed statement, one round trip) or prepared (named statements prepared once per connection)"`
	IncludeConnect bool              `yaml:"include_connect" doc:"time a fresh connection (including the TLS handshake) with every execution; otherwise connections are opened (afresh every round) before timing starts"`
	Until          *MeasureUntil     `yaml:"until" doc:"measure until this overhead gate is decided, or max_duration is spent: {baseline, candidate, stat, max, confidence, per_query}, as in assert-overhead (give it the same values); the looks spend the error rate so that stopping early keeps it"`
	Save           string            `yaml:"save" doc:"also write the results as versioned JSON to this file, for a later assert-overhead baseline_file"`
}

// MeasureUntil is the gate that ends a measurement once decided.
type MeasureUntil struct {
	Baseline   string   `yaml:"baseline" doc:"the baseline target, e.g. plain"`
	Candidate  string   `yaml:"candidate" doc:"the target to judge, e.g. tls"`
	Stat       StatList `yaml:"stat" default:"[p95]" enum:"p50,p90,p95,p99,mean" doc:"statistics to gate on (one or a list)"`
	Max        Ratio    `yaml:"max" default:"5%" doc:"largest acceptable overhead"`
	Confidence float64  `yaml:"confidence" default:"0.95" doc:"two-sided confidence"`
	PerQuery   bool     `yaml:"per_query" doc:"gate every query on its own too"`
}

// MeasureQuery is one query of the workload.
type MeasureQuery struct {
	Name string `yaml:"name"`
	SQL  string `yaml:"sql"`
	Args []any  `yaml:"args"`
}

// UnmarshalYAML accepts a SQL string or a {name, sql, args} mapping.
func (q *MeasureQuery) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&q.SQL)
	}
	type plain MeasureQuery
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "name" && k != "sql" && k != "args" {
			return fmt.Errorf("line %d: query field %q not recognised (name, sql, args)", n.Content[i].Line, k)
		}
	}
	*q = MeasureQuery(p)
	return nil
}

var (
	_ runner.Action    = (*Measure)(nil)
	_ runner.Validator = (*Measure)(nil)
)

// Validate checks the workload and names unnamed queries.
func (m *Measure) Validate() error {
	if len(m.Targets) == 0 {
		return errors.New("targets: give at least one named connection string")
	}
	for name, dsn := range m.Targets {
		if name == "" || strings.ContainsAny(name, " .,") {
			return fmt.Errorf("targets: name %q: use letters, digits, - and _ (it is used in expressions)", name)
		}
		if strings.TrimSpace(dsn) == "" {
			return fmt.Errorf("targets.%s: empty connection string", name)
		}
	}
	if len(m.Queries) == 0 {
		return errors.New("queries: give at least one query")
	}
	seen := map[string]bool{}
	for i := range m.Queries {
		q := &m.Queries[i]
		if q.Name == "" {
			q.Name = fmt.Sprintf("q%d", i+1)
		}
		switch {
		case strings.TrimSpace(q.SQL) == "":
			return fmt.Errorf("queries[%d] (%s): sql is empty", i, q.Name)
		case strings.ContainsAny(q.Name, " .,"):
			return fmt.Errorf("queries[%d]: name %q: use letters, digits, - and _ (it is used in expressions)", i, q.Name)
		case seen[q.Name]:
			return fmt.Errorf("queries[%d]: name %q is used twice", i, q.Name)
		}
		seen[q.Name] = true
	}
	switch {
	case m.Rounds < 1:
		return fmt.Errorf("rounds: %d: give at least 1 (assert-overhead needs at least 2; 20 or more for a 5%% gate)", m.Rounds)
	case m.Concurrency < 1:
		return fmt.Errorf("concurrency: %d: give at least 1", m.Concurrency)
	case m.Warmup < 0:
		return fmt.Errorf("warmup: %d is negative", m.Warmup)
	case m.MaxDuration.IsZero():
		return fmt.Errorf("max_duration: %s: give a positive budget, e.g. 1m", m.MaxDuration)
	case m.Iterations < 0:
		return fmt.Errorf("iterations: %d is negative", m.Iterations)
	}
	if u := m.Until; u != nil {
		switch {
		case u.Baseline == "" || u.Candidate == "":
			return errors.New("until: name the baseline and the candidate target, e.g. {baseline: plain, candidate: tls}")
		case m.Targets[u.Baseline] == "":
			return fmt.Errorf("until.baseline: %q is not a target%s", u.Baseline, runner.Suggest(u.Baseline, slices.Sorted(maps.Keys(m.Targets))))
		case m.Targets[u.Candidate] == "":
			return fmt.Errorf("until.candidate: %q is not a target%s", u.Candidate, runner.Suggest(u.Candidate, slices.Sorted(maps.Keys(m.Targets))))
		case u.Baseline == u.Candidate:
			return fmt.Errorf("until: baseline and candidate are both %q: for an A/A check, measure the same connection string under two target names", u.Baseline)
		case m.Rounds < 2:
			return fmt.Errorf("rounds: %d: until needs at least 2 (20 or more for a 5%% gate)", m.Rounds)
		}
		if err := checkGate(u.Stat, float64(u.Max), u.Confidence); err != nil {
			return fmt.Errorf("until.%w", err)
		}
	}
	return nil
}

// Run measures the workload and returns the statistics; it writes the
// results file.
func (m *Measure) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	o := workload.Options{
		Targets: m.Targets, Mode: m.Mode, Rounds: m.Rounds, MaxDuration: m.MaxDuration.Std(), Iterations: m.Iterations,
		Warmup: m.Warmup, Concurrency: m.Concurrency, IncludeConnect: m.IncludeConnect,
		Logger: sc.Logger, Plan: sc.PlanName, Step: sc.ID, SluiceVersion: sluiceVersion(),
	}
	for _, q := range m.Queries {
		o.Queries = append(o.Queries, workload.Query{Name: q.Name, SQL: q.SQL, Args: q.Args})
	}
	if u := m.Until; u != nil {
		o.Until = &latency.Until{Baseline: u.Baseline, Candidate: u.Candidate, Stats: u.Stat, Max: float64(u.Max), Confidence: u.Confidence, PerQuery: u.PerQuery}
	}
	f, err := workload.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	path, err := m.resultsPath(sc)
	if err != nil {
		return nil, err
	}
	if err := f.Save(path); err != nil {
		return nil, err
	}
	names := f.TargetNames()
	for _, name := range names {
		s := f.Targets[name].Summary
		sc.Logger.Info("measured", "target", name, "count", s.Count, "p50_ms", round3(s.P50), "p95_ms", round3(s.P95))
	}
	outs := measureOutputs(f, names)
	outs["file"] = path
	return outs, nil
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
	looks := make([]any, len(f.Run.Looks))
	verdict := ""
	for i, l := range f.Run.Looks {
		looks[i] = map[string]any{"rounds": int64(l.Rounds), "verdict": string(l.Verdict), "share": l.Share}
		verdict = string(l.Verdict)
	}
	return runner.Outputs{
		"targets": targets, "queries": queries, "rounds": rounds, "server_versions": versions, "count": count,
		"seconds": f.Run.Seconds, "rounds_done": int64(f.Run.Rounds), "stopped": f.Run.Stopped, "verdict": verdict, "looks": looks,
	}
}

// resultsPath is save:, or a file in the run folder, or (outside a run) a
// temporary file.
func (m *Measure) resultsPath(sc *runner.StepContext) (string, error) {
	switch {
	case m.Save != "":
		return m.Save, nil
	case sc.RunDir != "":
		return filepath.Join(sc.RunDir, sc.ID+".measure.json"), nil
	}
	tmp, err := os.CreateTemp("", "sluice-measure-*.json")
	if err != nil {
		return "", fmt.Errorf("creating results file: %w", err)
	}
	tmp.Close()
	return tmp.Name(), nil
}

func sluiceVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
