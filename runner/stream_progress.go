package runner

import (
	"time"
)

// progressInterval is how often a running stream reports progress (a
// variable so that tests need not wait a second).
var progressInterval = time.Second

// StreamProgress is the state of one running stream, given to
// RunOptions.Progress about every second while it flows and once when it
// ends.
type StreamProgress struct {
	// Stream names the stream: its source step's id, with the for_each
	// item in brackets ("dump[shop]").
	Stream string
	// Target is RunOptions.Target: the inventory target the run is for, or
	// empty.
	Target string
	// Bytes is how many bytes the source has written so far.
	Bytes int64
	// Rate is the bytes per second over the last interval.
	Rate float64
	// Size is the number of bytes the source expects to write (a
	// database's size before its dump, an object's recorded size); 0 when
	// unknown. It is an estimate: Bytes may end below or above it.
	Size int64
	// Elapsed is the time since the stream started.
	Elapsed time.Duration
	// Done says the stream ended: this is its last report.
	Done bool
	// Phase is "checking" while the source reads its input through a
	// check before it writes any (Bytes then counts what it read), else
	// empty.
	Phase string
}

// ETA returns the estimated time until the stream reaches Size at its
// average rate so far, and false when that cannot be told: no size, no
// bytes yet, or more bytes than the estimate already.
func (p StreamProgress) ETA() (time.Duration, bool) {
	if p.Size <= 0 || p.Bytes <= 0 || p.Bytes >= p.Size || p.Elapsed <= 0 {
		return 0, false
	}
	avg := float64(p.Bytes) / p.Elapsed.Seconds()
	return time.Duration(float64(p.Size-p.Bytes) / avg * float64(time.Second)), true
}

// watchStream reports the progress of the stream whose source writes to
// out to opts.Progress every progressInterval, and once more when stop is
// called. The returned stop ends the watcher and waits for it.
func (r *run) watchStream(label string, out *countWriter) (stop func()) {
	if r.opts.Progress == nil || out == nil {
		return func() {}
	}
	report := func(p StreamProgress) {
		p.Stream, p.Target, p.Size = label, r.opts.Target, out.expected.Load()
		r.progress.Lock()
		defer r.progress.Unlock()
		r.opts.Progress(p)
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	started := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		last, lastAt := int64(0), started
		for {
			select {
			case <-quit:
				n := out.n.Load()
				report(StreamProgress{Bytes: n, Rate: float64(n-last) / time.Since(lastAt).Seconds(), Elapsed: time.Since(started), Done: true})
				return
			case now := <-t.C:
				n, phase := out.n.Load(), ""
				if c := out.checking.Load(); n == 0 && c > 0 {
					n, phase = c, "checking"
				} else if c > 0 && last > n {
					last = 0 // the checking phase ended: its count is not this one's
				}
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				report(StreamProgress{Bytes: n, Rate: rate, Elapsed: now.Sub(started), Phase: phase})
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
