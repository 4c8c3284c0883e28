package runner

import (
	"fmt"
	"time"
)

// progressInterval is how often a running stream reports progress (a
// variable so that tests need not wait a second).
var progressInterval = time.Second

// watchStream writes a progress line for the stream whose source is src to
// opts.Progress every progressInterval: bytes so far and the recent rate. The
// returned stop ends the watcher and waits for it.
func (r *run) watchStream(src string, out *countWriter) (stop func()) {
	if r.opts.Progress == nil || out == nil {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				n := out.n.Load()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				r.progress.Lock()
				fmt.Fprintf(r.opts.Progress, "stream %s: %s (%s/s)\n", src, FormatBytes(n), FormatBytes(int64(rate)))
				r.progress.Unlock()
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
