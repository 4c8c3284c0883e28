package steps

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/pg"
)

// pgbenchQuery is the workload both tools run: every tenth call (counted
// by a server-side sequence, so each tool's 60 timed calls hold exactly 6)
// sleeps 30 ms, the others 5 ms. The latency is made of sleeping, not of
// CPU work, so two clients that get unequal shares of a loaded machine's
// CPU still see nearly the same numbers (a CPU-bound query differed by 40%
// at p95 between them under load). And the distribution has a known shape:
// p50 is a 5 ms call and p95 a 30 ms one, so a wrong percentile, a wrong
// unit or timing only part of an execution is off by a factor of 6 or
// more, far outside the tolerance.
const pgbenchQuery = "SELECT 1 FROM pg_sleep(CASE WHEN nextval('pgbench_calls') % 10 = 0 THEN 0.030 ELSE 0.005 END)"

// Agreement tolerance between measure and pgbench: 40% of pgbench's value
// plus 1 ms (a sleep's wake-up waits for a CPU on a loaded machine, for
// both clients alike). Both tools alternate six times so that drift hits
// both, and the medians of their per-round percentiles are compared.
const (
	pgbenchRel = 0.40
	pgbenchAbs = 1.0 // ms
)

// testAgreesWithPgbench checks measure's p50 and p95 against percentiles
// computed from pgbench's per-transaction log (-l) for the same query,
// protocol (extended) and one client.
func testAgreesWithPgbench(t *testing.T, dsn string) {
	tool, err := pg.FindTool("pgbench", "postgresql-contrib", pg.Version{})
	if err != nil {
		testenv.SkipUnlessCI(t, "pgbench not available: %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "q.sql")
	if err := os.WriteFile(script, []byte(pgbenchQuery+";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Per round, each tool's percentile; compared are the medians over the
	// rounds, so that a round disturbed by other work on the machine (a
	// burst of slow samples moves a p95 of 60 samples a lot) does not
	// decide the result.
	rounds := map[string][2][]float64{"p50": {}, "p95": {}}
	var nOurs, nTheirs int
	for i := range 6 {
		prefix := filepath.Join(dir, "pgb"+strconv.Itoa(i))
		cmd := exec.CommandContext(context.Background(), tool.Path, "-n", "-M", "extended", "-c", "1", "-t", "60",
			"-f", script, "-l", "--log-prefix="+prefix, dsn)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pgbench: %v\n%s", err, out)
		}
		theirs := readPgbenchLog(t, prefix)
		m := &Measure{Targets: map[string]string{"plain": dsn}, Queries: []MeasureQuery{{Name: "q", SQL: pgbenchQuery}},
			Warmup: 5, Iterations: 60, Rounds: 1, MaxDuration: runner.Duration{Clock: time.Minute}, Concurrency: 1, Mode: "extended"}
		ours := measureSamples(t, m)
		nOurs, nTheirs = nOurs+len(ours), nTheirs+len(theirs)
		a, b := latency.Summarize(ours, 0), latency.Summarize(theirs, 0)
		for stat, v := range rounds {
			x, _ := a.Get(stat)
			y, _ := b.Get(stat)
			rounds[stat] = [2][]float64{append(v[0], x), append(v[1], y)}
		}
	}
	for _, stat := range []string{"p50", "p95"} {
		x, y := median(rounds[stat][0]), median(rounds[stat][1])
		t.Logf("%s, median over 6 rounds: measure %.3f ms (n=%d), pgbench -l %.3f ms (n=%d)", stat, x, nOurs, y, nTheirs)
		if d := x - y; d > pgbenchRel*y+pgbenchAbs || -d > pgbenchRel*y+pgbenchAbs {
			t.Errorf("%s: measure %.3f ms, pgbench %.3f ms: further apart than %.0f%% + %.0f µs", stat, x, y, 100*pgbenchRel, 1000*pgbenchAbs)
		}
	}
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// measureSamples runs m (one round of its only target, "plain") as the
// step runs it and returns the raw latencies from its results file, so
// that the distributions can be compared.
func measureSamples(t *testing.T, m *Measure) []time.Duration {
	t.Helper()
	f, err := latency.Load(runMeasure(t, m)["file"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Duration
	for _, ms := range f.Targets["plain"].Queries["q"].Samples[0] {
		out = append(out, time.Duration(ms*float64(time.Millisecond)))
	}
	return out
}

// readPgbenchLog reads the latencies (third field, microseconds) of every
// log file pgbench wrote under prefix.
func readPgbenchLog(t *testing.T, prefix string) []time.Duration {
	t.Helper()
	files, _ := filepath.Glob(prefix + ".*")
	if len(files) == 0 {
		t.Fatalf("pgbench wrote no log at %s.*", prefix)
	}
	var out []time.Duration
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			out = append(out, time.Duration(us)*time.Microsecond)
		}
		f.Close()
	}
	return out
}
