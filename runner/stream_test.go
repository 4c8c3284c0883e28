package runner

import (
	"context"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestStreamNetFanOutAndFail(t *testing.T) {
	defer goleak.VerifyNone(t)
	n := newStreamNet([]string{"src"}, map[string][]string{"src": {"a", "b"}})
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i, id := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := io.ReadAll(n.ins[id])
			got[i] = string(b) + "|" + errString(err)
		}()
	}
	if _, err := io.WriteString(n.outs["src"], "hello"); err != nil {
		t.Fatal(err)
	}
	// The write returned once buffered; fail after the readers took it.
	for deadline := time.Now().Add(time.Minute); n.ins["a"].n.Load() < 5 || n.ins["b"].n.Load() < 5; {
		if time.Now().After(deadline) {
			t.Fatal("the readers never got the bytes written")
		}
		time.Sleep(time.Millisecond)
	}
	boom := errors.New("boom")
	if !n.fail(boom) || n.fail(errors.New("second")) {
		t.Errorf("fail: only the first call counts")
	}
	wg.Wait()
	// A failure is never a clean end of stream for any branch.
	if !slices.Equal(got, []string{"hello|boom", "hello|boom"}) {
		t.Errorf("branches read %q", got)
	}
	if _, err := io.WriteString(n.outs["src"], "more"); !errors.Is(err, boom) {
		t.Errorf("writing after fail: %v, want boom", err)
	}
	if n.outs["src"].n.Load() != 5 || n.ins["a"].n.Load() != 5 {
		t.Errorf("counts: out %d, in %d", n.outs["src"].n.Load(), n.ins["a"].n.Load())
	}
}

func TestStreamNetCheckDrained(t *testing.T) {
	defer goleak.VerifyNone(t)
	n := newStreamNet([]string{"src"}, map[string][]string{"src": {"done", "early"}})
	done := make(chan error, 2)
	go func() { // reads everything without seeing EOF itself
		buf := make([]byte, 4)
		_, err := io.ReadFull(n.ins["done"], buf)
		if err == nil {
			err = n.checkDrained("done")
		}
		done <- err
	}()
	go func() { // stops after two bytes
		buf := make([]byte, 2)
		_, err := io.ReadFull(n.ins["early"], buf)
		if err == nil {
			err = n.checkDrained("early")
		}
		done <- err
		n.fail(err)
	}()
	_, werr := io.WriteString(n.outs["src"], "ab")
	if werr == nil {
		_, werr = io.WriteString(n.outs["src"], "cd")
	}
	if werr == nil {
		n.finishProducer("src", nil)
	}
	errs := []error{<-done, <-done}
	if !slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, errNotDrained) }) {
		t.Errorf("errors %v: the early reader was not caught", errs)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 256 << 20: "256.0 MiB", 1 << 30: "1.0 GiB", 1<<62 + 1<<61: "6.0 EiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%v) = %q, want %q", n, got, want)
		}
	}
}

// lineWriter signals when a line arrived.
type lineWriter struct {
	mu    sync.Mutex
	lines []string
	first chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, string(p))
	if len(w.lines) == 1 {
		close(w.first)
	}
	return len(p), nil
}

func TestRunProgress(t *testing.T) {
	defer goleak.VerifyNone(t)
	defer func(d time.Duration) { progressInterval = d }(progressInterval)
	progressInterval = 2 * time.Millisecond
	w := &lineWriter{first: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-w.first
		cancel()
	}()
	plan := strings.Replace(memoryPlan(1<<20), "input: up}", "input: up, with: {hold: true}}", 1)
	_, err := runPlan(t, ctx, plan, RunOptions{Progress: w})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error = %v, want the interrupt the test caused", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	line := regexp.MustCompile(`^stream src: [0-9.]+ (B|KiB|MiB) \([0-9.]+ (B|KiB|MiB|GiB)/s\)\n$`)
	if len(w.lines) == 0 || !line.MatchString(w.lines[0]) {
		t.Errorf("progress lines %q", w.lines)
	}
}

func errString(err error) string {
	if err == nil {
		return "EOF"
	}
	return strings.TrimSpace(err.Error())
}
