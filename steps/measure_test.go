package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// startTLSCluster starts a cluster with TLS on (a certificate generated
// now) and a seeded database, and returns its plaintext and TLS DSNs.
func startTLSCluster(t *testing.T) (plain, tls string, c *pg.Cluster) {
	t.Helper()
	cert, key, err := pg.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	c = pgtest.Start(t, pg.WithTLS(pg.Options{}, cert, key))
	db := pgtest.NewDB(t, c)
	pgtest.Seed(t, c, db)
	// public.work() is instant; slow.work() sleeps 1 ms. A target whose
	// search_path starts with slow runs the same SQL slower.
	err = c.Exec(context.Background(), db, `
CREATE FUNCTION public.work() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE SCHEMA slow;
CREATE FUNCTION slow.work() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(0.001)';
CREATE SEQUENCE public.pgbench_calls;`)
	if err != nil {
		t.Fatal(err)
	}
	return c.DSN(db) + "?sslmode=disable", c.DSN(db) + "?sslmode=require", c
}

func TestIntegrationMeasure(t *testing.T) {
	plain, tls, _ := startTLSCluster(t)
	dir := t.TempDir()
	aaFile := filepath.Join(dir, "aa.json")

	t.Run("a/a never fails", func(t *testing.T) {
		m := &Measure{
			Targets: map[string]string{"a": tls, "b": tls},
			Queries: []MeasureQuery{{SQL: "SELECT * FROM shop.orders WHERE customer_id = $1", Args: []any{42}}},
			Warmup:  5, Rounds: 10, MaxDuration: runner.Duration{Clock: 5 * time.Second}, Concurrency: 1, Mode: "extended", Save: aaFile,
			Until: &MeasureUntil{Baseline: "a", Candidate: "b", Stat: StatList{"p50"}, Max: 0.05, Confidence: 0.95},
		}
		outs := runMeasure(t, m)
		f, err := latency.Load(aaFile)
		if err != nil {
			t.Fatal(err)
		}
		// Interleaved execution by execution: both targets ran the same
		// number of times in every round.
		a, b := f.Targets["a"].Queries["q1"], f.Targets["b"].Queries["q1"]
		for r := range a.Samples {
			if len(a.Samples[r]) != len(b.Samples[r]) || len(a.Samples[r]) == 0 {
				t.Errorf("round %d: %d samples of a, %d of b", r+1, len(a.Samples[r]), len(b.Samples[r]))
			}
		}
		done := outs["rounds_done"].(int64)
		if int(done) != len(a.Samples) || done < 2 || outs["seconds"].(float64) > 5+5 {
			t.Errorf("rounds_done %d, %d rounds in the file, %.1f s for a 5 s budget", done, len(a.Samples), outs["seconds"])
		}
		if outs["verdict"] == "fail" {
			t.Errorf("A/A: until judged fail (a false alarm): %v", outs["looks"])
		}
		// On a shared machine a p95 interval is often wider than the 5%
		// limit (inconclusive); what an A/A run must never do is fail.
		aouts, err := (&AssertOverhead{Results: aaFile, Baseline: "a", Candidate: "b", Stat: StatList{"p95", "p50"},
			Max: 0.05, Confidence: 0.95, OnInconclusive: "pass", Enforce: true}).Run(context.Background(), stepContext("overhead"))
		if err != nil {
			t.Fatalf("A/A gate failed: %v", err)
		}
		t.Logf("A/A after %v rounds (%v): %v\n%s", done, outs["stopped"], aouts["advice"], aouts["table"])
		if aouts["verdict"] == "fail" {
			t.Errorf("A/A: verdict fail (a false alarm): %v", aouts["message"])
		}
	})

	t.Run("a failing query with concurrency reports its error", func(t *testing.T) {
		// Client 1 of 3 fails in warm-up; the clients after it were never
		// made. The cleanup closed them anyway, and the step failed with a
		// nil-pointer panic instead of the server's error.
		m := &Measure{
			Targets: map[string]string{"a": tls, "b": tls},
			Queries: []MeasureQuery{{SQL: "SELECT no_such_column FROM shop.orders"}},
			Warmup:  2, Rounds: 2, MaxDuration: runner.Duration{Clock: 5 * time.Second}, Concurrency: 3, Mode: "extended",
		}
		_, err := m.Run(context.Background(), stepContext("measure"))
		if err == nil || !strings.Contains(err.Error(), "no_such_column") || strings.Contains(err.Error(), "panic") {
			t.Errorf("error %v; want the server's, naming no_such_column", err)
		}
	})

	t.Run("slower candidate fails early", func(t *testing.T) {
		m := &Measure{
			Targets: map[string]string{"fast": tls, "slow": tls + "&options=-csearch_path%3Dslow,public"},
			Queries: []MeasureQuery{{Name: "work", SQL: "SELECT work()"}},
			Warmup:  5, Rounds: 20, MaxDuration: runner.Duration{Clock: 20 * time.Second}, Concurrency: 2, Mode: "prepared",
			Until: &MeasureUntil{Baseline: "fast", Candidate: "slow", Stat: StatList{"p95"}, Max: 0.05, Confidence: 0.95},
		}
		outs := runMeasure(t, m)
		// pg_sleep(0.001) makes it several times slower: the first look
		// decides.
		if outs["stopped"] != "decided" || outs["verdict"] != "fail" || outs["rounds_done"].(int64) >= 20 {
			t.Errorf("stopped %v with verdict %v after %v rounds; want decided, fail, early", outs["stopped"], outs["verdict"], outs["rounds_done"])
		}
		_, err := (&AssertOverhead{Results: outs["file"].(string), Baseline: "fast", Candidate: "slow", Stat: StatList{"p95"},
			Max: 0.05, Confidence: 0.95, OnInconclusive: "fail", Enforce: true}).Run(context.Background(), stepContext("overhead"))
		var ge *runner.GateError
		if !errors.As(err, &ge) || !strings.Contains(err.Error(), "p95 of all queries: +") || !strings.Contains(err.Error(), "costs more than the 5% limit at p95 of all queries") {
			t.Fatalf("want a gate failure naming p95 and what to do, got %v", err)
		}
		t.Log(err)
	})

	t.Run("saved baseline file", func(t *testing.T) {
		m := &Measure{
			Targets: map[string]string{"b": tls},
			// The same query name as in the saved A/A file, made slower.
			Queries: []MeasureQuery{{SQL: "SELECT *, pg_sleep(0.0005) FROM shop.orders WHERE customer_id = $1", Args: []any{42}}},
			Warmup:  5, Iterations: 50, Rounds: 5, MaxDuration: runner.Duration{Clock: time.Minute}, Concurrency: 1, Mode: "simple",
		}
		outs := runMeasure(t, m)
		if outs["stopped"] != "rounds" || outs["queries"].(map[string]any)["q1"].(map[string]any)["b"].(map[string]any)["count"] != int64(5*50) {
			t.Errorf("iterations: stopped %v, %v", outs["stopped"], outs["queries"])
		}
		a := &AssertOverhead{Results: outs["file"].(string), BaselineFile: aaFile, Candidate: "b", Stat: StatList{"p50"},
			Max: 0.05, Confidence: 0.95, OnInconclusive: "fail", Enforce: false}
		aouts, err := a.Run(context.Background(), stepContext("overhead"))
		if err != nil {
			t.Fatal(err)
		}
		work := aouts["queries"].(map[string]any)["q1"].(map[string]any)["p50"].(map[string]any)
		if aouts["paired"] != false || aouts["verdict"] != "fail" || work["verdict"] != "fail" || work["ratio"].(float64) < 1 {
			t.Errorf("against the saved baseline: %v", aouts)
		}
	})

	t.Run("agrees with pgbench", func(t *testing.T) { testAgreesWithPgbench(t, plain) })

	t.Run("connect included", func(t *testing.T) {
		// The same query on the same target, with and without a new
		// connection per execution: a connection is a backend process
		// forked and a SCRAM exchange (thousands of PBKDF2 rounds), many
		// times a SELECT 1, however loaded the machine. (Comparing TLS with
		// plaintext connections instead split the difference too finely
		// for a shared machine.)
		p50 := func(includeConnect bool) float64 {
			m := &Measure{
				Targets: map[string]string{"plain": plain},
				Queries: []MeasureQuery{{SQL: "SELECT 1"}}, Warmup: 2, Iterations: 20, Rounds: 2, MaxDuration: runner.Duration{Clock: time.Minute}, Concurrency: 1,
				Mode: "extended", IncludeConnect: includeConnect,
			}
			return runMeasure(t, m)["targets"].(map[string]any)["plain"].(map[string]any)["p50"].(float64)
		}
		query, connect := p50(false), p50(true)
		t.Logf("SELECT 1 p50: %.3f ms; with a connection each: %.3f ms", query, connect)
		if !(connect > 3*query) {
			t.Errorf("with include_connect, p50 %.3f ms is not clearly above the query alone, %.3f ms: the connection is not timed", connect, query)
		}
	})
}

func stepContext(id string) *runner.StepContext {
	return &runner.StepContext{ID: id, Logger: hclog.NewNullLogger()}
}

func runMeasure(t *testing.T, m *Measure) map[string]any {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	outs, err := m.Run(context.Background(), stepContext("bench"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Save == "" {
		t.Cleanup(func() { os.Remove(outs["file"].(string)) })
	}
	if _, err := latency.Load(outs["file"].(string)); err != nil {
		t.Fatal(err)
	}
	return outs
}
