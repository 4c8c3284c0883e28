package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// streamPlan is a source, a transform, and a fan-out to two file sinks:
//
//	src -> up -> a
//	          -> b
func streamPlan(dir, src, up, a, b string) string {
	return fmt.Sprintf(`
version: 1
steps:
  src: {type: gen, with: {size: 300000 %s}}
  up:  {type: upper, input: src %s}
  a:   {type: file, input: up, with: {path: %q %s}}
  b:   {type: file, input: up, with: {path: %q %s}}
  after: {type: act, needs: [a, b]}
`, src, up, filepath.Join(dir, "a.out"), a, filepath.Join(dir, "b.out"), b)
}

func TestRunStreamFanOut(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	rep, err := runPlan(t, context.Background(), streamPlan(dir, "", "", "", ""), RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	want := bytes.ToUpper(bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz-"), 300000/27+1)[:300000])
	for _, name := range []string{"a.out", "b.out"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: %d bytes, err %v; want the %d upper-cased bytes (first difference at %d)", name, len(got), err, len(want), i)
		}
	}
	if b := rep.Step("src").Bytes; b == nil || b.Out != 300000 || b.In != 0 {
		t.Errorf("src bytes = %+v", b)
	}
	if b := rep.Step("up").Bytes; b == nil || b.Out != 300000 || b.In != 300000 {
		t.Errorf("up bytes = %+v", b)
	}
	a := rep.Step("a")
	if a.Bytes == nil || a.Bytes.In != 300000 || a.Outputs["path"] != filepath.Join(dir, "a.out") {
		t.Errorf("a: bytes %+v, outputs %v", a.Bytes, a.Outputs)
	}
	if up, _ := a.Outputs["upstream"].([]any); !slices.Equal(up, []any{"src", "up"}) {
		t.Errorf("a's commit saw upstream %v, want [src up]", a.Outputs["upstream"])
	}
	if stepStatus(t, rep, "after") != StatusSucceeded {
		t.Errorf("after: %s", stepStatus(t, rep, "after"))
	}
}

// TestRunStreamErrorAtEachPosition injects a failure at every member of a
// fan-out stream: the run fails with that step's error, no sink output is
// committed, no temporary file remains and no goroutine leaks.
func TestRunStreamErrorAtEachPosition(t *testing.T) {
	cases := []struct {
		name, src, up, a, b string
		step, msg           string
	}{
		{name: "source", src: ", fail_at: 100000", step: "src", msg: "injected source failure"},
		{name: "transform", up: ", with: {fail_at: 70000}", step: "up", msg: "injected transform failure"},
		{name: "branch a", a: ", fail_at: 50000", step: "a", msg: "injected sink failure"},
		{name: "branch b", b: ", fail_at: 120000", step: "b", msg: "injected sink failure"},
		{name: "sink stops early", a: ", partial: true", step: "a", msg: "returned before reading its input to the end"},
		{name: "commit", b: ", fail_commit: true", step: "b", msg: "committing: injected commit failure"},
		{name: "source retried", src: ", fails: 5", step: "src", msg: "injected failure in attempt 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := t.TempDir()
			plan := streamPlan(dir, tc.src, tc.up, tc.a, tc.b)
			if tc.name == "source retried" {
				plan = strings.Replace(plan, "src: {type: gen,", "src: {type: gen, retry: {attempts: 2},", 1)
			}
			rep, err := runPlan(t, context.Background(), plan, RunOptions{})
			var se *StepError
			if !errors.As(err, &se) || se.Step != tc.step || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error = %v, want step %q failing with %q", err, tc.step, tc.msg)
			}
			if rep.Status != StatusFailed || stepStatus(t, rep, tc.step) != StatusFailed {
				t.Errorf("run %s, %s %s", rep.Status, tc.step, stepStatus(t, rep, tc.step))
			}
			if stepStatus(t, rep, "after") != StatusCancelled {
				t.Errorf("after: %s, want cancelled", stepStatus(t, rep, "after"))
			}
			for _, id := range []string{"a", "b"} {
				if id != tc.step && stepStatus(t, rep, id) != StatusCancelled {
					t.Errorf("sink %s: %s, want cancelled", id, stepStatus(t, rep, id))
				}
			}
			if tc.name == "commit" {
				// a committed before b failed; a commit cannot be undone.
				if err := os.Remove(filepath.Join(dir, "a.out")); err != nil {
					t.Errorf("a.out: %v", err)
				}
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

func TestRunStreamRetryRerunsGroup(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	plan := strings.Replace(streamPlan(dir, ", fails: 1", "", "", ""), "src: {type: gen,", "src: {type: gen, retry: {attempts: 3, backoff: 1ms},", 1)
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, id := range []string{"src", "up", "a", "b"} {
		if s := rep.Step(id); s.Status != StatusSucceeded || s.Attempts != 2 {
			t.Errorf("%s: %s after %d attempts, want succeeded after 2", id, s.Status, s.Attempts)
		}
	}
	// The failed attempt never reached the sinks' commit; the second
	// committed each sink once.
	var commits []string
	for _, e := range events.snapshot() {
		if strings.HasPrefix(e, "commit ") {
			commits = append(commits, filepath.Base(e))
		}
	}
	if !slices.Equal(commits, []string{"a.out", "b.out"}) {
		t.Errorf("commits = %v, want a.out then b.out once each", commits)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a.out")); err != nil || fi.Size() != 300000 {
		t.Errorf("a.out after retry: %v, %v", fi, err)
	}
}

func TestRunStreamTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	plan := strings.Replace(streamPlan(dir, ", hang_at: 1000", "", "", ""), "b:   {type: file,", "b:   {type: file, timeout: 40ms,", 1)
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	if !errors.Is(err, ErrStepTimeout) || !strings.Contains(err.Error(), `step "b": timed out after 40ms`) {
		t.Fatalf("error = %v, want b's timeout", err)
	}
	if stepStatus(t, rep, "b") != StatusFailed || stepStatus(t, rep, "src") != StatusCancelled {
		t.Errorf("b %s, src %s", stepStatus(t, rep, "b"), stepStatus(t, rep, "src"))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestRunInterrupt cancels the caller's context while bytes flow: the run
// ends with ErrInterrupted, every sink aborted, nothing committed.
func TestRunInterrupt(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelOn(t, "hang src", cancel)
	rep, err := runPlan(t, ctx, streamPlan(dir, ", hang_at: 150000", "", "", ""), RunOptions{})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error = %v, want ErrInterrupted", err)
	}
	if rep.Status != StatusInterrupted {
		t.Errorf("run status %s, want interrupted", rep.Status)
	}
	for _, id := range []string{"src", "up", "a", "b", "after"} {
		if got := stepStatus(t, rep, id); got != StatusCancelled {
			t.Errorf("%s: %s, want cancelled", id, got)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if s := events.snapshot(); slices.ContainsFunc(s, func(e string) bool { return strings.HasPrefix(e, "commit") }) {
		t.Errorf("a sink committed: %v", s)
	}
}

func TestRunStreamAssertGatesCommit(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	var ge *GateError
	plan := strings.Replace(streamPlan(dir, "", "", "", ""), "a:   {type: file,",
		"a:   {type: file, assert: [{that: steps.up.bytes_out < 1000, message: too big}],", 1)
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	if !errors.As(err, &ge) || ge.Step != "a" || ge.Operands != "steps.up.bytes_out = 300000" {
		t.Fatalf("error = %v, want a's gate with the operand value", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed gate left files: %v", left)
	}
	if stepStatus(t, rep, "a") != StatusFailed || stepStatus(t, rep, "b") != StatusCancelled {
		t.Errorf("a %s, b %s", stepStatus(t, rep, "a"), stepStatus(t, rep, "b"))
	}
}

// TestRunInterruptAbortsPending interrupts after the sinks finished reading
// but before they were committed: the runner aborts both.
func TestRunInterruptAbortsPending(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelOn(t, "hold b", cancel)
	rep, err := runPlan(t, ctx, streamPlan(dir, "", "", "", ", hold: true"), RunOptions{})
	if !errors.Is(err, ErrInterrupted) || rep.Status != StatusInterrupted {
		t.Fatalf("error = %v, status %s; want ErrInterrupted", err, rep.Status)
	}
	var aborted []string
	for _, e := range events.snapshot() {
		if strings.HasPrefix(e, "commit") {
			t.Errorf("committed during an interrupt: %s", e)
		}
		if strings.HasPrefix(e, "abort ") {
			aborted = append(aborted, filepath.Base(e))
		}
	}
	if !slices.Equal(aborted, []string{"a.out", "b.out"}) {
		t.Errorf("aborted %v, want both sinks", aborted)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestRunInterruptAfterSinkDone interrupts after a sink whose work is done
// when it returns (a restore that committed): it is reported as succeeded,
// not as interrupted, and so is the run when nothing else was left to do.
func TestRunInterruptAfterSinkDone(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelOn(t, "hold load", cancel)
	rep, err := runPlan(t, ctx, `
version: 1
steps:
  src:  {type: gen, with: {size: 300000}}
  load: {type: file, input: src, with: {hold: true, done: true}}
`, RunOptions{})
	if err != nil || rep.Status != StatusSucceeded {
		t.Fatalf("error = %v, status %s; want success", err, rep.Status)
	}
	for _, id := range []string{"src", "load"} {
		if got := stepStatus(t, rep, id); got != StatusSucceeded {
			t.Errorf("%s: %s, want succeeded", id, got)
		}
	}
}

// TestRunStreamNotCancelledByOtherFailure fails an action while a stream
// flows: the stream is independent of it, so it runs to its end and its
// sinks commit; what had not started (after) is cancelled, and the run
// fails with the action's error.
func TestRunStreamNotCancelledByOtherFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	plan := streamPlan(dir, "", "", ", wait_for: end bad", "") + `  bad: {type: act, with: {sleep: 5ms, fails: -1}}
`
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "bad" {
		t.Fatalf("error = %v, want bad's failure", err)
	}
	for id, want := range map[string]Status{"src": StatusSucceeded, "up": StatusSucceeded, "a": StatusSucceeded, "b": StatusSucceeded, "after": StatusCancelled, "bad": StatusFailed} {
		if got := stepStatus(t, rep, id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if got := rep.Step("bad").Error; got != "injected failure (value )" {
		t.Errorf("bad's recorded error %q should not repeat the step name", got)
	}
	for _, name := range []string{"a.out", "b.out"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() != 300000 {
			t.Errorf("%s: %v, want the committed stream", name, err)
		}
	}
}

// TestRunIndependentStreamsCommitIndependently is the rule for sibling
// streams (two backups in one plan): one stream's failed gate does not
// decide whether the other's backup is kept. The second stream is held
// until the first has failed and rolled back, then commits; both orders
// of events leave the second backup committed and reported as succeeded.
func TestRunIndependentStreamsCommitIndependently(t *testing.T) {
	for _, tc := range []struct{ name, waitA, waitB string }{
		{"other fails first", "", "abort A"},
		{"other commits first", "commit B", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.out"), filepath.Join(dir, "b.out")
			plan := fmt.Sprintf(`
version: 1
steps:
  gen-a: {type: gen, with: {size: 50000}}
  a:
    type: file
    input: gen-a
    with: {path: %q, wait_for: %q}
    assert: [{that: steps.a.bytes < 10, message: too big}]
  gen-b: {type: gen, with: {size: 70000}}
  b: {type: file, input: gen-b, with: {path: %q, wait_for: %q}}
  after: {type: act, needs: [a, b]}
`, a, tc.waitA, b, tc.waitB)
			plan = strings.ReplaceAll(plan, "abort A", "abort "+a)
			plan = strings.ReplaceAll(plan, "commit B", "commit "+b)
			rep, err := runPlan(t, context.Background(), plan, RunOptions{})
			var ge *GateError
			if !errors.As(err, &ge) || ge.Step != "a" {
				t.Fatalf("error = %v, want a's gate", err)
			}
			for id, want := range map[string]Status{"a": StatusFailed, "gen-b": StatusSucceeded, "b": StatusSucceeded, "after": StatusCancelled} {
				if got := stepStatus(t, rep, id); got != want {
					t.Errorf("%s: %s, want %s", id, got, want)
				}
			}
			if _, err := os.Stat(a); err == nil {
				t.Errorf("a.out committed although its gate failed")
			}
			if fi, err := os.Stat(b); err != nil || fi.Size() != 70000 {
				t.Errorf("b.out: %v, want the independent stream committed", err)
			}
		})
	}
}

// TestRunStreamStats: each member's report says how long it waited for its
// producer and its consumers and how long it was busy, so that the slow
// member of a stream stands out: here the transform, which works 2 ms per
// 32 KiB read; the source waits for it once the pipe's buffer is full and
// the sinks wait for it from the start.
func TestRunStreamStats(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	plan := strings.Replace(streamPlan(dir, "", ", with: {delay: 2ms}", "", ""), "size: 300000", "size: 4000000", 1)
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	src, up, a := rep.Step("src").Bytes, rep.Step("up").Bytes, rep.Step("a").Bytes
	if src == nil || up == nil || a == nil {
		t.Fatal("a member has no stream counts")
	}
	// 4 MB in reads of at most 32 KiB: at least 122 reads of 2 ms.
	if up.BusySeconds < 0.2 {
		t.Errorf("up busy %.3fs, want at least the 0.24s it slept", up.BusySeconds)
	}
	if up.BusySeconds <= src.BusySeconds || up.BusySeconds <= a.BusySeconds {
		t.Errorf("busy: src %.3fs, up %.3fs, a %.3fs; want up the busiest", src.BusySeconds, up.BusySeconds, a.BusySeconds)
	}
	if src.OutWaitSeconds < 0.1 || a.InWaitSeconds < 0.1 {
		t.Errorf("src waited %.3fs for up, a waited %.3fs for it; want both to have waited", src.OutWaitSeconds, a.InWaitSeconds)
	}
	if src.InWaitSeconds != 0 || a.OutWaitSeconds != 0 {
		t.Errorf("a source has no input and a sink no output: %+v, %+v", src, a)
	}
}

// cancelOn cancels the run once a test step recorded event. Should the
// event not come within a minute, the test fails and the run is cancelled
// all the same, so that it ends.
func cancelOn(t *testing.T, event string, cancel context.CancelFunc) {
	go func() {
		defer cancel()
		if err := waitUntil(context.Background(), "event "+event, func() bool { return slices.Contains(events.snapshot(), event) }); err != nil {
			t.Error(err)
		}
	}()
}
