package testenv

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records how the test was stopped.
// Fatalf and Skipf end the goroutine as the real ones do.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = format
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip = format
	runtime.Goexit()
}

func run(fn func(r *recorder)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestSkipUnlessCI(t *testing.T) {
	t.Setenv("CI", "")
	if r := run(func(r *recorder) { SkipUnlessCI(r, "no %s", "tool") }); r.skip == "" || r.fatal != "" {
		t.Errorf("outside CI: skip %q, fatal %q; want a skip", r.skip, r.fatal)
	}
	t.Setenv("CI", "true")
	if r := run(func(r *recorder) { SkipUnlessCI(r, "no %s", "tool") }); r.fatal == "" || r.skip != "" {
		t.Errorf("in CI: skip %q, fatal %q; want a failure", r.skip, r.fatal)
	}
	if r := run(func(r *recorder) { LookPath(r, "no-such-program-sluice", "nowhere") }); r.fatal == "" {
		t.Error("in CI, a missing program did not fail the test")
	}
	if p := LookPath(t, "sh", "the shell"); !strings.HasSuffix(p, "/sh") {
		t.Errorf("LookPath(sh) = %q", p)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, time.Minute, time.Millisecond, "three calls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
	r := run(func(r *recorder) {
		WaitFor(r, 20*time.Millisecond, time.Millisecond, "never", func() bool { return false })
	})
	if !strings.Contains(r.fatal, "gave up") {
		t.Errorf("fatal %q, want it to give up", r.fatal)
	}
}

func TestSharedStartsOnce(t *testing.T) {
	var s Shared[*int]
	if s.On() {
		t.Error("sharing is on without Main")
	}
	starts := 0
	one := 1
	start := func() (*int, error) { starts++; return &one, nil }
	for range 3 {
		if v, err := s.Get(start); v != &one || err != nil {
			t.Fatalf("Get = %v, %v", v, err)
		}
	}
	if starts != 1 {
		t.Errorf("started %d times, want once", starts)
	}

	var failed Shared[*int]
	starts = 0
	boom := errors.New("no server")
	for range 2 {
		if _, err := failed.Get(func() (*int, error) { starts++; return nil, boom }); err != boom {
			t.Fatalf("Get after a failed start: %v, want %v", err, boom)
		}
	}
	if starts != 1 {
		t.Errorf("a failed start was tried %d times, want once", starts)
	}
}
