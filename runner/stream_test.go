package runner

import (
	"context"
	"errors"
	"io"
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
// TestRunProgress checks what a running stream reports: its name, bytes,
// rate and the size its source announced, about every interval, then a last
// report marked done.
func TestRunProgress(t *testing.T) {
	defer goleak.VerifyNone(t)
	defer func(d time.Duration) { progressInterval = d }(progressInterval)
	progressInterval = 2 * time.Millisecond
	var (
		mu      sync.Mutex
		reports []StreamProgress
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := func(p StreamProgress) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, p)
		if len(reports) == 3 {
			cancel()
		}
	}
	plan := strings.Replace(memoryPlan(1<<20), "size: 1048576}", "size: 1048576, expect: 4194304}", 1)
	plan = strings.Replace(plan, "input: up}", "input: up, with: {hold: true}}", 1)
	_, err := runPlan(t, ctx, plan, RunOptions{Progress: progress, Target: "db1"})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error = %v, want the interrupt the test caused", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) < 4 {
		t.Fatalf("%d reports, want at least 3 and the last one", len(reports))
	}
	for i, p := range reports {
		last := i == len(reports)-1
		if p.Stream != "src" || p.Target != "db1" || p.Size != 4<<20 || p.Done != last || p.Elapsed <= 0 {
			t.Errorf("report %d: %+v", i, p)
		}
		if i > 0 && (p.Bytes < reports[i-1].Bytes || p.Elapsed < reports[i-1].Elapsed) {
			t.Errorf("report %d went back: %+v after %+v", i, p, reports[i-1])
		}
	}
	// The sink holds after reading everything: the source wrote it all.
	if got := reports[len(reports)-1].Bytes; got != 1<<20 {
		t.Errorf("last report: %d bytes, want %d", got, 1<<20)
	}
	if _, ok := reports[len(reports)-1].ETA(); !ok {
		t.Errorf("no ETA with 1 MiB of an expected 4 MiB")
	}
}

func TestStreamProgressETA(t *testing.T) {
	for _, tc := range []struct {
		p    StreamProgress
		want time.Duration
		ok   bool
	}{
		{StreamProgress{Bytes: 100, Size: 400, Elapsed: 10 * time.Second}, 30 * time.Second, true},
		{StreamProgress{Bytes: 100, Elapsed: 10 * time.Second}, 0, false},            // size unknown
		{StreamProgress{Bytes: 0, Size: 400, Elapsed: 10 * time.Second}, 0, false},   // nothing yet
		{StreamProgress{Bytes: 500, Size: 400, Elapsed: 10 * time.Second}, 0, false}, // past the estimate
		{StreamProgress{Bytes: 100, Size: 400}, 0, false},                            // no time yet
	} {
		got, ok := tc.p.ETA()
		if ok != tc.ok || got != tc.want {
			t.Errorf("%+v: ETA %v, %v; want %v, %v", tc.p, got, ok, tc.want, tc.ok)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "EOF"
	}
	return strings.TrimSpace(err.Error())
}
