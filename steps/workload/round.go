package workload

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/steps/latency"
)

// round runs round k: every client connects to every target afresh (so
// that one backend's placement on the machine does not bias a target for
// the whole run), warms up, then runs iterations for slice (or Iterations
// of them, whatever slice is). An iteration runs every query on every target, the
// targets of each query back to back and their order alternating between
// iterations (A B, B A, ...). It returns how long the timed part took.
func (m *measurement) round(ctx context.Context, k int, slice time.Duration) (time.Duration, error) {
	o := m.o
	nt, nq := len(m.names), len(o.Queries)
	clients := make([]*client, o.Concurrency)
	defer func() {
		for _, c := range clients {
			if c != nil { // clients after one that failed to connect never were
				c.close()
			}
		}
	}()
	for i := range clients {
		c := &client{m: m, conns: make([]*pgx.Conn, nt), recs: make([][]*latency.Recorder, nt), scratch: &latency.Recorder{}}
		clients[i] = c
		for i := range nt {
			// Alternate which target connects (and warms up) first, so
			// that whatever comes with the order does not bias one
			// target for the whole run.
			t := i
			if k%2 == 1 {
				t = nt - 1 - i
			}
			c.recs[t] = make([]*latency.Recorder, nq)
			for q := range nq {
				c.recs[t][q] = latency.NewRecorder(1024)
			}
			if o.IncludeConnect {
				continue
			}
			conn, err := pgx.ConnectConfig(ctx, m.cfgs[m.names[t]])
			if err != nil {
				return 0, fmt.Errorf("targets.%s: connecting: %w", m.names[t], err)
			}
			c.conns[t] = conn
		}
		for j := range o.Warmup {
			if err := c.iteration(ctx, j+k, false); err != nil {
				return 0, fmt.Errorf("warming up: %w", err)
			}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(slice)
	for i, c := range clients {
		wg.Go(func() {
			for j := i; ctx.Err() == nil; j++ {
				if o.Iterations > 0 {
					if j = int(next.Add(1) - 1); j >= o.Iterations {
						return
					}
				} else if !time.Now().Before(deadline) {
					return
				}
				if err := c.iteration(ctx, j, true); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	timed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	for t, name := range m.names {
		m.wall[name] += timed
		for q := range nq {
			var all []time.Duration
			for _, c := range clients {
				all = append(all, c.recs[t][q].Samples...)
			}
			m.samples[name][q] = append(m.samples[name][q], all)
		}
	}
	return timed, nil
}

// client is one connection to every target and its recorded latencies.
type client struct {
	m       *measurement
	conns   []*pgx.Conn           // per target; nil with include_connect
	recs    [][]*latency.Recorder // target -> query
	scratch *latency.Recorder     // warm-up latencies, not kept
}

func (c *client) close() {
	for _, conn := range c.conns {
		if conn != nil {
			conn.Close(context.Background())
		}
	}
}

// iteration runs every query on every target once, in the order of
// iteration j, recording the latencies when record is set.
func (c *client) iteration(ctx context.Context, j int, record bool) error {
	order := make([]int, len(c.conns))
	for t := range order {
		order[t] = t
	}
	if j%2 == 1 {
		slices.Reverse(order)
	}
	for q := range c.m.o.Queries {
		for _, t := range order {
			rec := c.recs[t][q]
			if !record {
				rec = c.scratch
				rec.Samples = rec.Samples[:0]
			}
			if err := c.exec(ctx, t, &c.m.o.Queries[q], rec); err != nil {
				return fmt.Errorf("target %s: query %s: %w", c.m.names[t], c.m.o.Queries[q].Name, err)
			}
		}
	}
	return nil
}

// exec runs q once on target t and records its latency in rec: on the
// client's connection, or (include_connect) on a connection opened for
// it, timed with the query (closing it is not).
func (c *client) exec(ctx context.Context, t int, q *Query, rec *latency.Recorder) error {
	if conn := c.conns[t]; conn != nil {
		return rec.Time(func() error { return runQuery(ctx, conn, q) })
	}
	var conn *pgx.Conn
	err := rec.Time(func() (err error) {
		if conn, err = pgx.ConnectConfig(ctx, c.m.cfgs[c.m.names[t]]); err != nil {
			return fmt.Errorf("connecting: %w", err)
		}
		return runQuery(ctx, conn, q)
	})
	if conn != nil {
		conn.Close(context.Background())
	}
	return err
}

// runQuery executes q and reads its whole result without decoding it.
func runQuery(ctx context.Context, conn *pgx.Conn, q *Query) error {
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

// fill writes the statistics and samples into f.
func (m *measurement) fill(f *latency.File) {
	for _, name := range m.names {
		var all []time.Duration
		var h latency.Histogram
		tg := &latency.Target{Queries: map[string]*latency.QueryData{}}
		for q, query := range m.o.Queries {
			qd := &latency.QueryData{}
			var pooled []time.Duration
			for _, r := range m.samples[name][q] {
				qd.Samples = append(qd.Samples, millis(r))
				qd.Rounds = append(qd.Rounds, latency.Summarize(slices.Clone(r), 0))
				pooled = append(pooled, r...)
			}
			for _, d := range pooled {
				h.Record(d)
			}
			all = append(all, pooled...)
			qd.Summary = latency.Summarize(pooled, m.wall[name])
			tg.Queries[query.Name] = qd
		}
		tg.Summary = latency.Summarize(all, m.wall[name])
		tg.Histogram = h.Buckets()
		f.Targets[name] = tg
	}
}
