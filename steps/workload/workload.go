// Package workload runs a query workload against PostgreSQL targets the
// way a latency comparison needs it: in rounds on fresh connections, the
// targets interleaved execution by execution (so that whatever the machine
// does at a moment hits them alike), within a time budget, and optionally
// until an overhead gate is decided. Every latency is kept, in a
// latency.File.
package workload

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/pg"
)

// Query is one query of the workload.
type Query struct {
	Name string
	SQL  string
	Args []any
}

// Options describe a measurement.
type Options struct {
	Targets map[string]string // name -> connection string
	Queries []Query
	// Mode is the protocol: simple, extended or prepared (see Modes).
	Mode string
	// Rounds is how many rounds to plan; every round opens fresh
	// connections, warms them up and runs the targets interleaved.
	Rounds int
	// MaxDuration is the budget of the whole measurement; each round gets
	// an equal share of what is left.
	MaxDuration time.Duration
	// Iterations, when positive, is how many times each round runs every
	// query on every target, instead of filling the round's share of the
	// budget.
	Iterations     int
	Warmup         int // untimed executions of each query per client and target, every round
	Concurrency    int // clients; each holds a connection to every target
	IncludeConnect bool
	// Until, when set, measures until this gate is decided: it looks at
	// the rounds planned by latency.Looks and stops at the first decided
	// look (see latency.LookShare for why that keeps the error rate).
	Until  *latency.Until
	Logger hclog.Logger
	// Plan and Step name the measurement in the results file.
	Plan, Step, SluiceVersion string
}

// Modes maps the protocol names to pgx's execution modes.
var Modes = map[string]pgx.QueryExecMode{
	"simple":   pgx.QueryExecModeSimpleProtocol,
	"extended": pgx.QueryExecModeExec,
	"prepared": pgx.QueryExecModeCacheStatement,
}

// minSlice is the shortest round worth measuring: below it, connecting
// and warming up would take most of the round.
const minSlice = 50 * time.Millisecond

type measurement struct {
	o       Options
	names   []string
	cfgs    map[string]*pgx.ConnConfig
	samples map[string][][][]time.Duration // target -> query -> round -> samples
	wall    map[string]time.Duration
}

// Run measures and returns the results. It fails on the first error of a
// query (a benchmark of failing queries means nothing).
func Run(ctx context.Context, o Options) (*latency.File, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	m := &measurement{o: o, cfgs: map[string]*pgx.ConnConfig{}, samples: map[string][][][]time.Duration{}, wall: map[string]time.Duration{}}
	for name := range o.Targets {
		m.names = append(m.names, name)
	}
	slices.Sort(m.names)
	start := time.Now()
	f := &latency.File{
		Created: start.UTC(), SluiceVersion: o.SluiceVersion, Plan: o.Plan, Step: o.Step,
		ServerVersions: map[string]string{}, Targets: map[string]*latency.Target{},
		Settings: latency.Settings{
			Mode: o.Mode, Rounds: o.Rounds, Iterations: o.Iterations, MaxDuration: o.MaxDuration.String(),
			Warmup: o.Warmup, Concurrency: o.Concurrency, IncludeConnect: o.IncludeConnect,
		},
	}
	f.Host, _ = os.Hostname()
	for _, q := range o.Queries {
		f.Settings.Queries = append(f.Settings.Queries, latency.QueryInfo{Name: q.Name, SQL: q.SQL})
	}
	for _, name := range m.names {
		cfg, err := pgx.ParseConfig(o.Targets[name])
		if err != nil {
			return nil, fmt.Errorf("targets.%s: invalid connection string %s: check its syntax", name, pg.Redact(o.Targets[name]))
		}
		cfg.DefaultQueryExecMode = Modes[o.Mode]
		m.cfgs[name] = cfg
		// One connection first, for a clear error and the server version.
		conn, err := pg.Connect(ctx, o.Targets[name])
		if err != nil {
			return nil, fmt.Errorf("targets.%s: %w", name, err)
		}
		f.ServerVersions[name] = conn.PgConn().ParameterStatus("server_version")
		conn.Close(context.Background())
		m.samples[name] = make([][][]time.Duration, len(o.Queries))
	}
	run, err := m.rounds(ctx, start)
	if err != nil {
		return nil, err
	}
	m.fill(f)
	f.Run = run
	return f, nil
}

// rounds runs the rounds within the budget and, with Until, looks at the
// gate after the planned rounds.
func (m *measurement) rounds(ctx context.Context, start time.Time) (latency.RunInfo, error) {
	o := m.o
	deadline := start.Add(o.MaxDuration)
	run := latency.RunInfo{Stopped: latency.StoppedRounds, Until: o.Until}
	var looks []int
	if o.Until != nil {
		looks = latency.Looks(o.Rounds)
	}
	var untimed time.Duration // connecting, warming up and looking, over all rounds
	prevLook, planned := 0, o.Rounds
	for k := 0; k < planned; k++ {
		began := time.Now()
		left := deadline.Sub(began)
		// Each remaining round gets an equal share of what is left after
		// connecting and warming up as the rounds so far did; when that
		// share gets too short, fewer rounds fit.
		perRound := untimed / time.Duration(max(k, 1))
		if o.Iterations == 0 {
			if fit := int(left / (perRound + minSlice)); fit < planned-k {
				planned = k + fit
			}
		}
		if left <= 0 || k >= planned {
			run.Stopped = latency.StoppedBudget
			break
		}
		slice := left/time.Duration(planned-k) - perRound
		timed, err := m.round(ctx, k, slice)
		if err != nil {
			return run, fmt.Errorf("round %d: %w", k+1, err)
		}
		run.Rounds = k + 1
		o.Logger.Debug("measure round done", "round", k+1, "of", planned, "timed", timed.Round(time.Millisecond))
		for len(looks) > 0 && looks[0] < run.Rounds {
			looks = looks[1:] // planned rounds shrank past it
		}
		if len(looks) > 0 && run.Rounds == looks[0] {
			looks = looks[1:]
			v, err := m.look(&run, prevLook, len(looks) == 0)
			if err != nil {
				return run, err
			}
			prevLook = run.Rounds
			if v != latency.Inconclusive {
				run.Stopped = latency.StoppedDecided
				break
			}
		}
		untimed += time.Since(began) - timed
	}
	if run.Stopped == latency.StoppedRounds && planned < o.Rounds {
		run.Stopped = latency.StoppedBudget
	}
	if o.Until != nil && run.Stopped == latency.StoppedBudget && run.Rounds >= 2 && (len(run.Looks) == 0 || !lastLookFinal(run, o.Rounds)) {
		// The budget ended the plan early: a last look spends what is left.
		if _, err := m.look(&run, prevLook, true); err != nil {
			return run, err
		}
	}
	run.Seconds = time.Since(start).Seconds()
	return run, nil
}

// look judges the Until gate on the rounds so far and records the look.
func (m *measurement) look(run *latency.RunInfo, prev int, final bool) (latency.Verdict, error) {
	u := m.o.Until
	share := latency.LookShare(prev, run.Rounds, m.o.Rounds, final)
	names := make([]string, len(m.o.Queries))
	for i, q := range m.o.Queries {
		names[i] = q.Name
	}
	base, cand := m.series(u.Baseline), m.series(u.Candidate)
	out, err := u.Gate().Judge(names, base, cand, true, share)
	if err != nil {
		return "", fmt.Errorf("judging after %d rounds: %w", run.Rounds, err)
	}
	run.Looks = append(run.Looks, latency.Look{Rounds: run.Rounds, Share: share, Verdict: out.Verdict})
	row := out.Rows[0]
	for _, r := range out.Rows {
		if r.Gating && r.Verdict == out.Verdict {
			row = r
			break
		}
	}
	m.o.Logger.Info("measure looked", "rounds", run.Rounds, "verdict", out.Verdict, "at", row.String(),
		"confidence", latency.Confidence(out.Confidence))
	return out.Verdict, nil
}

func (m *measurement) series(target string) []*latency.Series {
	out := make([]*latency.Series, len(m.o.Queries))
	for q, rounds := range m.samples[target] {
		s := &latency.Series{}
		for _, r := range rounds {
			s.Add(millis(r))
		}
		out[q] = s
	}
	return out
}

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = latency.Millis(d)
	}
	return out
}

// lastLookFinal reports whether the last look already spent the rest.
func lastLookFinal(run latency.RunInfo, planned int) bool {
	last := run.Looks[len(run.Looks)-1]
	return last.Rounds == planned && last.Rounds == run.Rounds
}
