package steps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/runner"
	"gopkg.in/yaml.v3"
)

func measureDefinition() runner.Definition {
	return runner.Definition{
		Type: "measure",
		Kind: runner.KindAction,
		Summary: "Benchmark query latency on one or more PostgreSQL targets, interleaved in rounds (ABBA order), " +
			"with warm-up and concurrency; durations in milliseconds",
		New: func() any { return &Measure{} },
		Outputs: []runner.OutputSpec{
			{Name: "targets", Type: "map", Doc: "per target, every query together: count, tps, and mean, stddev, min, p50, p90, p95, p99, max " +
				"in milliseconds (float), plus histogram: [{low, high, count}] log buckets in milliseconds (e.g. steps.bench.targets.tls.p95)"},
			{Name: "queries", Type: "map", Doc: "per query name, then per target: the same statistics without the histogram (e.g. steps.bench.queries.one.tls.p95)"},
			{Name: "rounds", Type: "map", Doc: "per target, then per query: a list with one entry per round of count, mean, p50, p90, p95, p99 and max (milliseconds)"},
			{Name: "order", Type: "list", Doc: "the targets in the order each round ran them, e.g. [\"plain,tls\", \"tls,plain\"]"},
			{Name: "server_versions", Type: "map", Doc: "per target, the server_version the server reported"},
			{Name: "count", Type: "int", Doc: "timed executions over every target and query"},
			{Name: "file", Type: "string", Doc: "the results file (versioned JSON): save: when given, else one in the run folder; give it to assert-overhead's results"},
		},
	}
}

// Measure is the parameter struct of the measure step.
type Measure struct {
	Targets        map[string]string `yaml:"targets" required:"true" doc:"named connection strings, e.g. {plain: \"postgres://...?sslmode=disable\", tls: \"postgres://...?sslmode=require\"}"`
	Queries        []MeasureQuery    `yaml:"queries" required:"true" doc:"the workload: a list of SQL strings or {name, sql, args} mappings; unnamed queries are q1, q2, ..."`
	Warmup         int               `yaml:"warmup" default:"20" doc:"untimed executions of each query per client at the start of every turn (each round reconnects every target)"`
	Iterations     int               `yaml:"iterations" default:"200" doc:"timed executions of each query per target in every round, over all clients"`
	Rounds         int               `yaml:"rounds" default:"10" doc:"rounds; every round runs every target, alternating the order (ABBA) so that drift hits all alike"`
	Duration       time.Duration     `yaml:"duration" doc:"instead of iterations: how long each target runs in every round"`
	Concurrency    int               `yaml:"concurrency" default:"1" doc:"clients (connections) per target, running at the same time"`
	Mode           string            `yaml:"mode" default:"extended" doc:"protocol: simple (simple query protocol), extended (unnamed statement, one round trip) or prepared (named statements prepared once per connection)"`
	IncludeConnect bool              `yaml:"include_connect" doc:"time a fresh connection (including the TLS handshake) with every execution; otherwise connections are opened (afresh every round) before timing starts"`
	Save           string            `yaml:"save" doc:"also write the results as versioned JSON to this file, for a later assert-overhead baseline_file"`
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

var measureModes = map[string]pgx.QueryExecMode{
	"simple":   pgx.QueryExecModeSimpleProtocol,
	"extended": pgx.QueryExecModeExec,
	"prepared": pgx.QueryExecModeCacheStatement,
}

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
	if _, ok := measureModes[m.Mode]; !ok {
		return fmt.Errorf("mode: %q is not one of simple, extended, prepared%s", m.Mode, runner.Suggest(m.Mode, []string{"simple", "extended", "prepared"}))
	}
	switch {
	case m.Rounds < 1:
		return fmt.Errorf("rounds: %d: give at least 1 (assert-overhead needs at least 2; 20 or more for a 5%% gate)", m.Rounds)
	case m.Concurrency < 1:
		return fmt.Errorf("concurrency: %d: give at least 1", m.Concurrency)
	case m.Warmup < 0:
		return fmt.Errorf("warmup: %d is negative", m.Warmup)
	case m.Duration < 0:
		return fmt.Errorf("duration: %s is negative", m.Duration)
	case m.Duration == 0 && m.Iterations < 1:
		return fmt.Errorf("iterations: %d: give at least 1, or a duration", m.Iterations)
	}
	return nil
}

// targetNames returns the target names sorted: the A, B, ... of the ABBA
// order.
func (m *Measure) targetNames() []string {
	names := make([]string, 0, len(m.Targets))
	for n := range m.Targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// roundOrder returns the targets in the order round k runs them: sorted in
// even rounds, reversed in odd ones (A B, B A, A B, ...).
func roundOrder(names []string, k int) []string {
	out := slices.Clone(names)
	if k%2 == 1 {
		slices.Reverse(out)
	}
	return out
}
