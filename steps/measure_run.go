package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/pg"
)

// Run connects to every target, warms up, runs the rounds and returns the
// statistics; it writes the results file.
func (m *Measure) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	if sc == nil {
		sc = &runner.StepContext{ID: "measure"}
	}
	if sc.Logger == nil {
		c := *sc
		c.Logger = hclog.NewNullLogger()
		sc = &c
	}
	names := m.targetNames()
	cfgs := map[string]*pgx.ConnConfig{}
	for _, name := range names {
		cfg, err := m.config(name)
		if err != nil {
			return nil, err
		}
		cfgs[name] = cfg
	}
	f := &latency.File{
		Created: time.Now().UTC(), SluiceVersion: sluiceVersion(), Plan: sc.PlanName, Step: sc.ID,
		ServerVersions: map[string]string{}, Targets: map[string]*latency.Target{},
		Settings: latency.Settings{
			Mode: m.Mode, Rounds: m.Rounds, Warmup: m.Warmup, Concurrency: m.Concurrency,
			IncludeConnect: m.IncludeConnect,
		},
	}
	f.Host, _ = os.Hostname()
	if m.Duration > 0 {
		f.Settings.Duration = m.Duration.String()
	} else {
		f.Settings.Iterations = m.Iterations
	}
	for _, q := range m.Queries {
		f.Settings.Queries = append(f.Settings.Queries, latency.QueryInfo{Name: q.Name, SQL: q.SQL})
	}
	acc := newMeasureAcc(m, names)
	for k := range m.Rounds {
		order := roundOrder(names, k)
		f.Order = append(f.Order, order)
		for _, name := range order {
			samples, wall, version, err := m.turnFresh(ctx, name, cfgs[name])
			if err != nil {
				return nil, fmt.Errorf("round %d: %w", k+1, err)
			}
			f.ServerVersions[name] = version
			acc.add(name, samples, wall)
		}
		sc.Logger.Debug("measure round done", "round", k+1, "of", m.Rounds, "order", strings.Join(order, ","))
	}
	acc.fill(f)
	path, err := m.resultsPath(sc)
	if err != nil {
		return nil, err
	}
	if err := f.Save(path); err != nil {
		return nil, err
	}
	for _, name := range names {
		s := f.Targets[name].Summary
		sc.Logger.Info("measured", "target", name, "count", s.Count, "p50_ms", round3(s.P50), "p95_ms", round3(s.P95), "tps", round3(s.TPS))
	}
	outs := measureOutputs(f, names)
	outs["file"] = path
	return outs, nil
}

// config parses the connection string of target name.
func (m *Measure) config(name string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(m.Targets[name])
	if err != nil {
		return nil, fmt.Errorf("targets.%s: invalid connection string %s: check its syntax", name, pg.Redact(m.Targets[name]))
	}
	cfg.DefaultQueryExecMode = measureModes[m.Mode]
	return cfg, nil
}

// turnFresh runs one target's turn of a round on fresh connections,
// opened and warmed up before timing starts and closed after it. Fresh
// connections every round spread whatever one server process or one
// connection's placement costs over the rounds, where the bootstrap sees
// it, instead of biasing a target for the whole run.
func (m *Measure) turnFresh(ctx context.Context, name string, cfg *pgx.ConnConfig) ([][]time.Duration, time.Duration, string, error) {
	conns, version, err := m.open(ctx, name)
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	if err != nil {
		return nil, 0, "", err
	}
	if m.IncludeConnect {
		conns = nil
	}
	if m.Warmup > 0 {
		if _, _, err := m.turn(ctx, name, cfg, conns, m.Warmup*m.Concurrency, 0); err != nil {
			return nil, 0, "", fmt.Errorf("warming up: %w", err)
		}
	}
	samples, wall, err := m.turn(ctx, name, cfg, conns, m.Iterations, m.Duration)
	return samples, wall, version, err
}

// open connects the clients of target name (one when include_connect is
// set, to learn the server version) and returns the server's version.
func (m *Measure) open(ctx context.Context, name string) ([]*pgx.Conn, string, error) {
	n := m.Concurrency
	if m.IncludeConnect {
		n = 1
	}
	var cs []*pgx.Conn
	for range n {
		c, err := pg.Connect(ctx, m.Targets[name])
		if err != nil {
			return cs, "", fmt.Errorf("targets.%s: %w", name, err)
		}
		cs = append(cs, c)
	}
	return cs, cs[0].PgConn().ParameterStatus("server_version"), nil
}

// turn runs one target's share of a round: iterations executions of every
// query spread over the clients (or, with duration, as many as fit), and
// returns the latencies per query and the wall time. conns is nil when
// every execution opens its own connection.
func (m *Measure) turn(ctx context.Context, name string, cfg *pgx.ConnConfig, conns []*pgx.Conn, iterations int, duration time.Duration) ([][]time.Duration, time.Duration, error) {
	nq := len(m.Queries)
	total := int64(iterations * nq)
	per := int(total)/m.Concurrency + nq
	if duration > 0 {
		per = 1024
	}
	recs := make([][]*latency.Recorder, m.Concurrency)
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	deadline := start.Add(duration)
	for i := range m.Concurrency {
		recs[i] = make([]*latency.Recorder, nq)
		for q := range recs[i] {
			recs[i][q] = latency.NewRecorder(per / nq)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := int64(i); ctx.Err() == nil; j++ {
				if duration > 0 {
					if !time.Now().Before(deadline) {
						return
					}
				} else if j = next.Add(1) - 1; j >= total {
					return
				}
				q := int(j % int64(nq))
				var conn *pgx.Conn
				if conns != nil {
					conn = conns[i]
				}
				if err := m.exec(ctx, cfg, conn, &m.Queries[q], recs[i][q]); err != nil {
					cancel(fmt.Errorf("target %s: query %s: %w", name, m.Queries[q].Name, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	out := make([][]time.Duration, nq)
	for q := range nq {
		for i := range recs {
			out[q] = append(out[q], recs[i][q].Samples...)
		}
	}
	return out, wall, nil
}

// exec runs q once and records its latency: on conn, or on a connection
// opened (and timed) for it when conn is nil.
func (m *Measure) exec(ctx context.Context, cfg *pgx.ConnConfig, conn *pgx.Conn, q *MeasureQuery, rec *latency.Recorder) error {
	if conn != nil {
		return rec.Time(func() error { return runQuery(ctx, conn, q) })
	}
	start := time.Now()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	err = runQuery(ctx, c, q)
	d := time.Since(start)
	c.Close(context.Background())
	if err == nil {
		rec.Samples = append(rec.Samples, d)
	}
	return err
}

// runQuery executes q and reads its whole result without decoding it.
func runQuery(ctx context.Context, conn *pgx.Conn, q *MeasureQuery) error {
	rows, err := conn.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		_ = rows.RawValues()
	}
	rows.Close()
	return rows.Err()
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
