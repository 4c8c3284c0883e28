package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/runner"
)

// work is a test action: it records how many targets run at once, waits
// until Meet of them do (so a cap of 1 shows as a timeout, not a pass by
// luck), and fails as Mode says.
type work struct {
	Mode   string `yaml:"mode" doc:"ok, fail, or flaky (fails the first attempt)"`
	Target string `yaml:"target" doc:"run.target"`
	Meet   int    `yaml:"meet" doc:"wait until this many run at once"`
}

var tally = struct {
	sync.Mutex
	cond     *sync.Cond
	running  int
	peak     int
	attempts map[string]int
}{}

func resetTally() {
	tally.Lock()
	defer tally.Unlock()
	tally.cond = sync.NewCond(&tally.Mutex)
	tally.running, tally.peak, tally.attempts = 0, 0, map[string]int{}
}

func (w *work) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	tally.Lock()
	tally.running++
	tally.peak = max(tally.peak, tally.running)
	tally.attempts[w.Target]++
	attempt := tally.attempts[w.Target]
	tally.cond.Broadcast()
	deadline := time.Now().Add(time.Minute) // generous for a loaded machine; met at once otherwise
	for tally.peak < w.Meet && time.Now().Before(deadline) && ctx.Err() == nil {
		tally.Unlock()
		time.Sleep(time.Millisecond)
		tally.Lock()
	}
	tally.running--
	tally.Unlock()
	sc.Logger.Info("working")
	switch {
	case w.Mode == "fail", w.Mode == "flaky" && attempt == 1:
		return nil, fmt.Errorf("%s broke on attempt %d", w.Target, attempt)
	}
	return runner.Outputs{"target": w.Target}, nil
}

func testPlan(t *testing.T, settings string) *runner.Plan {
	t.Helper()
	reg := runner.NewRegistry(runner.Definition{Type: "work", Kind: runner.KindAction, New: func() any { return &work{} },
		Outputs: []runner.OutputSpec{{Name: "target", Type: "string"}}})
	p, err := runner.Load("fleet.yaml", []byte(`version: 1
params:
  mode: {type: string, default: ok}
  meet: {type: int, default: 0}
  gate: {type: bool, default: true}
  db: {type: string, secret: true}
`+settings+`
steps:
  w:
    type: work
    with: {mode: "${{ params.mode }}", target: "${{ run.target }}", meet: "${{ params.meet }}"}
    assert: [{that: params.gate, message: the gate}]
`), reg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func job(name string, params map[string]any) Job {
	return Job{Name: name, Labels: map[string]string{"tier": "gold"}, Params: params}
}

// TestRunFleet runs five targets, two at a time: one fails, one fails its
// gate, one cannot resolve its params; the others still succeed, the worst
// error is the failed step's, and the combined report records every target.
func TestRunFleet(t *testing.T) {
	defer goleak.VerifyNone(t)
	resetTally()
	p := testPlan(t, "")
	state := t.TempDir()
	var done []string
	rep, err := Run(context.Background(), p, []Job{
		job("a", map[string]any{"meet": 2}),
		job("b", map[string]any{"meet": 2, "mode": "fail", "db": "postgres://u:hunter2-secret@db/x"}),
		job("c", map[string]any{"gate": false}),
		{Name: "d", Err: errors.New("inv.yaml:9:7: environment variable D_DSN is not set")},
		job("e", nil),
	}, Options{ID: "f1", Parallel: 2, StateDir: state, Inventory: "inv.yaml",
		Done: func(t Target) { done = append(done, t.Name) }})
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v, want *fleet.Error", err)
	}
	if got := strings.Join(fe.Failed, ","); got != "b,c,d" || fe.Total != 5 {
		t.Errorf("failed %s of %d, want b,c,d of 5", got, fe.Total)
	}
	var gate *runner.GateError
	if errors.As(err, &gate) || !strings.Contains(fe.Worst.Error(), "b broke") {
		t.Errorf("worst error %v, want b's failed step (worse than c's gate)", fe.Worst)
	}
	if tally.peak != 2 {
		t.Errorf("peak %d targets at once, want 2 (--parallel)", tally.peak)
	}
	if len(done) != 5 {
		t.Errorf("Done called for %v, want every target", done)
	}
	want := map[string]Outcome{"a": OutcomeSucceeded, "b": OutcomeFailed, "c": OutcomeGateFailed, "d": OutcomeNotRun, "e": OutcomeSucceeded}
	for _, tg := range rep.Targets {
		if tg.Outcome != want[tg.Name] {
			t.Errorf("target %s: outcome %s, want %s", tg.Name, tg.Outcome, want[tg.Name])
		}
		if tg.Name == "d" {
			if tg.Run != nil || tg.RunID != "" || !strings.Contains(tg.Error, "D_DSN is not set") {
				t.Errorf("target d: %+v, want not run with its error", tg)
			}
			continue
		}
		if tg.RunID != "f1-"+tg.Name || tg.Run == nil || tg.Run.Target != tg.Name || tg.Run.Fleet != "f1" || tg.Labels["tier"] != "gold" {
			t.Errorf("target %s: run id %q, report %v", tg.Name, tg.RunID, tg.Run)
		}
		if _, err := os.Stat(filepath.Join(state, "runs", "f1-"+tg.Name, runner.ReportFile)); err != nil {
			t.Errorf("target %s has no report of its own: %v", tg.Name, err)
		}
	}
	if c := rep.Targets[2]; c.GatesFailed != 1 || c.GatesPassed != 0 || rep.Targets[0].GatesPassed != 1 {
		t.Errorf("gates: c %d/%d, a %d", c.GatesPassed, c.GatesFailed, rep.Targets[0].GatesPassed)
	}
	read, err := ReadReport(filepath.Join(state, "runs", "f1", ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if read.Status != runner.StatusFailed || len(read.Targets) != 5 || read.Inventory != "inv.yaml" || read.Parallel != 2 {
		t.Errorf("fleet.json: status %s, %d targets, inventory %q, parallel %d", read.Status, len(read.Targets), read.Inventory, read.Parallel)
	}
	b, _ := os.ReadFile(filepath.Join(state, "runs", "f1", ReportFile))
	if bytes.Contains(b, []byte("hunter2")) {
		t.Error("fleet.json holds the password of a target's DSN")
	}
	if !IsFleet(state, "f1") || IsFleet(state, "f1-a") {
		t.Error("IsFleet does not tell the fleet's folder from a target's")
	}
}

// TestRunFleetRetry checks settings.retry: a flaky target is run again
// with a new run id, which no other target's name can take (flaky's second
// attempt and the target flaky-2 both ran as f2-flaky-2, and one failed),
// and a failing gate is not retried.
func TestRunFleetRetry(t *testing.T) {
	defer goleak.VerifyNone(t)
	resetTally()
	p := testPlan(t, "settings: {retry: {attempts: 3, backoff: 1ms}}")
	rep, err := Run(context.Background(), p, []Job{
		job("flaky", map[string]any{"mode": "flaky"}),
		job("gate", map[string]any{"gate": false}),
		job("flaky-2", map[string]any{"mode": "ok"}),
	}, Options{ID: "f2", StateDir: t.TempDir(), Parallel: 1})
	if err == nil {
		t.Fatal("want the gate target's error")
	}
	flaky, gate := rep.Targets[0], rep.Targets[1]
	if flaky.Outcome != OutcomeSucceeded || flaky.Attempts != 2 || flaky.RunID != "f2-flaky_2" {
		t.Errorf("flaky: %s after %d attempts, run %s; want succeeded after 2, run f2-flaky_2", flaky.Outcome, flaky.Attempts, flaky.RunID)
	}
	if other := rep.Targets[2]; other.Outcome != OutcomeSucceeded || other.RunID != "f2-flaky-2" {
		t.Errorf("target flaky-2: %s, run %s; want succeeded as f2-flaky-2", other.Outcome, other.RunID)
	}
	if gate.Outcome != OutcomeGateFailed || gate.Attempts != 1 || tally.attempts["gate"] != 1 {
		t.Errorf("gate: %s after %d attempts (%d runs); a failed gate is not retried", gate.Outcome, gate.Attempts, tally.attempts["gate"])
	}
	var ge *runner.GateError
	if !errors.As(err, &ge) {
		t.Errorf("error %v, want the gate's", err)
	}
}

// TestRunFleetInterrupted cancels the fleet while its first target runs:
// that target is interrupted, the rest never start, and the error is
// runner.ErrInterrupted.
func TestRunFleetInterrupted(t *testing.T) {
	defer goleak.VerifyNone(t)
	resetTally()
	p := testPlan(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tally.Lock()
		for tally.running == 0 {
			tally.cond.Wait()
		}
		tally.Unlock()
		cancel()
	}()
	rep, err := Run(ctx, p, []Job{job("a", map[string]any{"meet": 2}), job("b", nil), job("c", nil)},
		Options{ID: "f3", Parallel: 1, StateDir: t.TempDir()})
	if !errors.Is(err, runner.ErrInterrupted) || rep.Status != runner.StatusInterrupted {
		t.Fatalf("error %v, status %s; want interrupted", err, rep.Status)
	}
	for _, tg := range rep.Targets[1:] {
		if tg.Outcome != OutcomeInterrupted || tg.Run != nil {
			t.Errorf("target %s: %s, ran %v; want interrupted before it started", tg.Name, tg.Outcome, tg.Run != nil)
		}
	}
}
