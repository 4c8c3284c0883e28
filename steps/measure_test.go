package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
CREATE FUNCTION slow.work() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(0.001)';`)
	if err != nil {
		t.Fatal(err)
	}
	return c.DSN(db) + "?sslmode=disable", c.DSN(db) + "?sslmode=require", c
}

func TestIntegrationMeasure(t *testing.T) {
	plain, tls, _ := startTLSCluster(t)
	dir := t.TempDir()
	aaFile := filepath.Join(dir, "aa.json")

	t.Run("a/a passes", func(t *testing.T) {
		m := &Measure{
			Targets: map[string]string{"a": tls, "b": tls},
			Queries: []MeasureQuery{{SQL: "SELECT * FROM shop.orders WHERE customer_id = $1", Args: []any{42}}},
			Warmup:  50, Iterations: 100, Rounds: 40, Concurrency: 1, Mode: "extended", Save: aaFile,
		}
		outs := runMeasure(t, m)
		if got := outs["order"].([]any); got[0] != "a,b" || got[1] != "b,a" || len(got) != 40 {
			t.Errorf("order %v, want alternating a,b / b,a", got)
		}
		q1 := outs["queries"].(map[string]any)["q1"].(map[string]any)["a"].(map[string]any)
		if q1["count"] != int64(40*100) {
			t.Errorf("q1 on a: count %v, want %d", q1["count"], 40*100)
		}
		// On a shared machine a p95 interval is often wider than the 5%
		// limit (inconclusive); what an A/A run must never do is fail.
		aouts, err := (&AssertOverhead{Results: aaFile, Baseline: "a", Candidate: "b", Stat: StatList{"p95", "p50"},
			Max: 0.05, Confidence: 0.95, OnInconclusive: "pass", Enforce: true, Resamples: 2000, Seed: 1}).Run(context.Background(), nil)
		if err != nil {
			t.Fatalf("A/A gate failed: %v", err)
		}
		p95 := aouts["p95"].(map[string]any)
		t.Logf("A/A p95 overhead %+.2f%% [%+.2f%%, %+.2f%%]", 100*p95["ratio"].(float64), 100*p95["ci_low"].(float64), 100*p95["ci_high"].(float64))
		p50 := aouts["p50"].(map[string]any)
		t.Logf("A/A p50 overhead %+.2f%% [%+.2f%%, %+.2f%%]", 100*p50["ratio"].(float64), 100*p50["ci_low"].(float64), 100*p50["ci_high"].(float64))
		if aouts["verdict"] == "fail" {
			t.Errorf("A/A: verdict fail (a false alarm): %v", aouts["message"])
		}
	})

	t.Run("slower candidate fails", func(t *testing.T) {
		m := &Measure{
			Targets: map[string]string{"fast": tls, "slow": tls + "&options=-csearch_path%3Dslow,public"},
			Queries: []MeasureQuery{{Name: "work", SQL: "SELECT work()"}},
			Warmup:  5, Iterations: 50, Rounds: 6, Concurrency: 2, Mode: "prepared",
		}
		outs := runMeasure(t, m)
		_, err := (&AssertOverhead{Results: outs["file"].(string), Baseline: "fast", Candidate: "slow", Stat: StatList{"p95"},
			Max: 0.05, Confidence: 0.95, OnInconclusive: "fail", Enforce: true, Resamples: 2000, Seed: 1}).Run(context.Background(), &runner.StepContext{ID: "overhead"})
		var ge *runner.GateError
		if !errors.As(err, &ge) || !strings.Contains(err.Error(), `query "work" p95: overhead +`) || !strings.Contains(err.Error(), "above the limit") {
			t.Fatalf("want a gate failure naming query work and p95, got %v", err)
		}
		t.Log(err)
	})

	t.Run("saved baseline file", func(t *testing.T) {
		m := &Measure{
			Targets: map[string]string{"b": tls},
			// The same query name as in the saved A/A file, made slower.
			Queries: []MeasureQuery{{SQL: "SELECT *, pg_sleep(0.0005) FROM shop.orders WHERE customer_id = $1", Args: []any{42}}},
			Warmup:  5, Iterations: 50, Rounds: 5, Concurrency: 1, Mode: "simple",
		}
		outs := runMeasure(t, m)
		a := &AssertOverhead{Results: outs["file"].(string), BaselineFile: aaFile, Candidate: "b", Stat: StatList{"p50"},
			Max: 0.05, Confidence: 0.95, OnInconclusive: "fail", Enforce: false, Resamples: 1000, Seed: 1}
		aouts, err := a.Run(context.Background(), nil)
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
		m := &Measure{
			Targets: map[string]string{"plain": plain, "tls": tls},
			Queries: []MeasureQuery{{SQL: "SELECT 1"}}, Warmup: 2, Iterations: 20, Rounds: 2, Concurrency: 2,
			Mode: "extended", IncludeConnect: true,
		}
		outs := runMeasure(t, m)
		tg := outs["targets"].(map[string]any)
		p, s := tg["plain"].(map[string]any)["p50"].(float64), tg["tls"].(map[string]any)["p50"].(float64)
		t.Logf("connect+SELECT 1 p50: plain %.3f ms, tls %.3f ms", p, s)
		// A TLS handshake costs a key exchange and extra round trips; with
		// connections included it must show clearly.
		if !(s > 1.2*p) {
			t.Errorf("with include_connect, TLS p50 %.3f ms is not clearly above plaintext %.3f ms", s, p)
		}
	})
}

func runMeasure(t *testing.T, m *Measure) map[string]any {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	outs, err := m.Run(context.Background(), nil)
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
