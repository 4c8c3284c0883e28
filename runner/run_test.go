package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunOrderAndConcurrency runs four actions that each wait until two
// run at once: with concurrency 2 they pair up; a broken limit shows as a
// higher peak, a limit of 1 as the plan's timeout.
func TestRunOrderAndConcurrency(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
settings: {concurrency: 2, timeout: 20s}
steps:
  a: {type: act, with: {meet: 2, sleep: 10ms}}
  b: {type: act, with: {meet: 2, sleep: 10ms}}
  c: {type: act, with: {meet: 2, sleep: 10ms}}
  d: {type: act, with: {meet: 2, sleep: 10ms}}
  last: {type: act, needs: [a, b, c, d], with: {value: "${{ steps.a.value }}done"}}
`, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if events.peak != 2 {
		t.Errorf("peak concurrency = %d, want 2 (settings.concurrency)", events.peak)
	}
	log := events.snapshot()
	startLast := slices.Index(log, "start last")
	for _, id := range []string{"a", "b", "c", "d"} {
		if end := slices.Index(log, "end "+id); end < 0 || end > startLast {
			t.Errorf("last started before %s ended: %v", id, log)
		}
	}
	if rep.Status != StatusSucceeded || stepStatus(t, rep, "last") != StatusSucceeded {
		t.Errorf("status = %s, last = %s", rep.Status, stepStatus(t, rep, "last"))
	}
	if got := rep.Step("last").Outputs["value"]; got != "done" {
		t.Errorf("last.value = %v, want %q", got, "done")
	}
}

func TestRunWhenAndSkipPropagation(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
params:
  mode: {type: string, default: fast}
steps:
  off:      {type: act, when: params.mode == "slow"}
  after:    {type: act, needs: [off]}
  decides:  {type: act, needs: [off], when: 'steps.off.status == "skipped" && env.MODE == "test"'}
  chain:    {type: act, needs: [after]}
  src:      {type: gen, when: "false"}
  sink:     {type: file, input: src}
  src2:     {type: gen, with: {size: 100}}
  keep:     {type: file, input: src2}
  drop:     {type: upper, input: src2, when: run.id == ""}
  dropsink: {type: file, input: drop}
`, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	want := map[string]Status{
		"off": StatusSkipped, "after": StatusSkipped, "decides": StatusSucceeded, "chain": StatusSkipped,
		"src": StatusSkipped, "sink": StatusSkipped,
		"src2": StatusSucceeded, "keep": StatusSucceeded, "drop": StatusSkipped, "dropsink": StatusSkipped,
	}
	for id, st := range want {
		if got := stepStatus(t, rep, id); got != st {
			t.Errorf("step %s: status %s, want %s", id, got, st)
		}
	}
	if b := rep.Step("keep").Bytes; b == nil || b.In != 100 {
		t.Errorf("keep bytes = %+v, want in 100", b)
	}
}

func TestRunRetryWithBackoff(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  flaky:  {type: act, with: {fails: 2}, retry: {attempts: 3, backoff: 5ms}}
  broken: {type: act, needs: [flaky], with: {fails: -1, value: x}, retry: {attempts: 2, backoff: 1ms}}
`, RunOptions{})
	if got := rep.Step("flaky"); got.Status != StatusSucceeded || got.Attempts != 3 {
		t.Errorf("flaky: %s after %d attempts, want succeeded after 3", got.Status, got.Attempts)
	}
	if got := rep.Step("broken"); got.Status != StatusFailed || got.Attempts != 2 {
		t.Errorf("broken: %s after %d attempts, want failed after 2", got.Status, got.Attempts)
	}
	var se *StepError
	if !errors.As(err, &se) || se.Step != "broken" {
		t.Fatalf("error = %v, want a *StepError of broken", err)
	}
	if want := `step "broken": injected failure (value x)`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestRunStepTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	start := time.Now()
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  slow: {type: act, timeout: 50ms, with: {sleep: 10s}}
`, RunOptions{})
	if !errors.Is(err, ErrStepTimeout) || !strings.Contains(err.Error(), `step "slow": timed out after 50ms`) {
		t.Fatalf("error = %v, want step timeout", err)
	}
	if time.Since(start) > 5*time.Second || stepStatus(t, rep, "slow") != StatusFailed {
		t.Errorf("slow: %s after %s", stepStatus(t, rep, "slow"), time.Since(start))
	}
}

func TestRunPlanTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
settings: {timeout: 50ms}
steps:
  slow:  {type: act, with: {sleep: 10s}}
  after: {type: act, needs: [slow]}
`, RunOptions{})
	if !errors.Is(err, ErrPlanTimeout) {
		t.Fatalf("error = %v, want ErrPlanTimeout", err)
	}
	if rep.Status != StatusFailed || stepStatus(t, rep, "slow") != StatusCancelled || stepStatus(t, rep, "after") != StatusCancelled {
		t.Errorf("run %s, slow %s, after %s", rep.Status, stepStatus(t, rep, "slow"), stepStatus(t, rep, "after"))
	}
}

func TestRunContinueOnError(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  bad:   {type: act, with: {fails: -1}, continue_on_error: true}
  dep:   {type: act, needs: [bad]}
  check: {type: act, needs: [bad], when: steps.bad.status == "failed"}
  other: {type: act, with: {sleep: 20ms}}
`, RunOptions{})
	if err != nil || rep.Status != StatusSucceeded {
		t.Fatalf("run %s, error %v; want succeeded", rep.Status, err)
	}
	want := map[string]Status{"bad": StatusFailed, "dep": StatusSkipped, "check": StatusSucceeded, "other": StatusSucceeded}
	for id, st := range want {
		if got := stepStatus(t, rep, id); got != st {
			t.Errorf("step %s: %s, want %s", id, got, st)
		}
	}
}

func TestRunCancelsOnFirstFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	start := time.Now()
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  long:  {type: act, with: {sleep: 10s}}
  bad:   {type: act, with: {sleep: 10ms, fails: -1}}
  after: {type: act, needs: [long]}
`, RunOptions{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "bad" {
		t.Fatalf("error = %v, want bad's *StepError", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %s: the long step was not cancelled", d)
	}
	want := map[string]Status{"long": StatusCancelled, "bad": StatusFailed, "after": StatusCancelled}
	for id, st := range want {
		if got := stepStatus(t, rep, id); got != st {
			t.Errorf("step %s: %s, want %s", id, got, st)
		}
	}
	if rep.Status != StatusFailed || !strings.Contains(rep.Step("long").Error, `step "bad" failed`) {
		t.Errorf("run %s, long's error %q", rep.Status, rep.Step("long").Error)
	}
}

func TestRunAsserts(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  ok:
    type: act
    with: {size: 5}
    assert: [{that: steps.ok.bytes > 0}]
  upload:
    type: act
    needs: [ok]
    with: {size: 0}
    assert:
      - that: steps.upload.bytes > 0
        message: backup is empty
      - that: steps.ok.bytes == 5
`, RunOptions{})
	var ge *GateError
	if !errors.As(err, &ge) {
		t.Fatalf("error = %v, want *GateError", err)
	}
	want := `step "upload": assertion failed: steps.upload.bytes > 0: steps.upload.bytes = 0 (backup is empty)`
	if err.Error() != want {
		t.Errorf("error =\n %s\nwant\n %s", err, want)
	}
	if ge.Pos.Line == 0 || ge.Operands != "steps.upload.bytes = 0" {
		t.Errorf("gate error fields: %+v", ge)
	}
	gates := rep.Step("upload").Gates
	if len(gates) != 2 || gates[0].Passed || !gates[1].Passed || gates[0].Line == 0 {
		t.Errorf("upload gates = %+v, want the first failed with a line and the second passed", gates)
	}
	if g := rep.Step("ok").Gates; len(g) != 1 || !g[0].Passed || rep.Step("ok").Status != StatusSucceeded {
		t.Errorf("ok gates = %+v", g)
	}
}

func TestBuildUnitsRejectsGroupActionCycle(t *testing.T) {
	p, err := Load("plan.yaml", []byte(`
version: 1
steps:
  src:  {type: gen}
  mid:  {type: act, needs: [src]}
  sink: {type: file, input: src, needs: [mid]}
`), testRegistry)
	if err != nil {
		t.Fatalf("loading: %v", err)
	}
	_, err = Run(context.Background(), p, RunOptions{StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "wait for each other") {
		t.Fatalf("error = %v, want the group/action cycle named", err)
	}
}

// TestRunTarget checks that a fleet run's target reaches expressions as
// run.target and the report with its labels, and that a run without one
// leaves both out.
func TestRunTarget(t *testing.T) {
	defer goleak.VerifyNone(t)
	const plan = `
version: 1
steps:
  a: {type: act, with: {value: "for ${{ run.target }}"}}
`
	rep, err := runPlan(t, context.Background(), plan, RunOptions{Target: "shop", Labels: map[string]string{"tier": "gold"}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := rep.Step("a").Outputs["value"]; got != "for shop" {
		t.Errorf("a.value = %v, want %q", got, "for shop")
	}
	if rep.Target != "shop" || rep.Labels["tier"] != "gold" {
		t.Errorf("report target %q labels %v, want shop and tier=gold", rep.Target, rep.Labels)
	}
	rep, err = runPlan(t, context.Background(), plan, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := rep.Step("a").Outputs["value"]; got != "for " || rep.Target != "" || rep.Labels != nil {
		t.Errorf("without a target: a.value %v, target %q, labels %v", got, rep.Target, rep.Labels)
	}
}

// TestRunContinueOnErrorCoversOnlyItsStep: a best-effort mirror marked
// continue_on_error fails in the same stream as the primary sink. The
// stream fails as a whole, so the primary's file is not committed; the
// run must fail for it. It succeeded with exit 0 and nothing stored: the
// primary was recorded as cancelled, which never fails a run.
func TestRunContinueOnErrorCoversOnlyItsStep(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	primary := filepath.Join(dir, "primary")
	rep, err := runPlan(t, context.Background(), fmt.Sprintf(`
version: 1
steps:
  src:     {type: gen, with: {size: 100000}}
  primary: {type: file, input: src, with: {path: %q}}
  mirror:  {type: file, input: src, continue_on_error: true, with: {path: %q, fail_at: 10}}
`, primary, filepath.Join(dir, "mirror")), RunOptions{})
	if err == nil || rep.Status != StatusFailed {
		t.Fatalf("run %s, error %v; want failed: the primary stored nothing", rep.Status, err)
	}
	if got := stepStatus(t, rep, "primary"); got != StatusFailed {
		t.Errorf("primary: %s, want failed", got)
	}
	if _, err := os.Stat(primary); err == nil {
		t.Error("the primary's file was committed from a failed stream")
	}
}
