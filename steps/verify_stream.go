package steps

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
)

// streamChain runs a source into a chain of transforms whose last output is
// discarded, each in its own goroutine joined by pipes, as the runner runs a
// stream group. It returns each member's outputs (source first) and the
// first error in time: the member that failed first is the cause; the
// others only saw their pipe closed.
func streamChain(ctx context.Context, sc *runner.StepContext, src func(ctx context.Context, w io.Writer) (runner.Outputs, error), xs []runner.Transform) ([]runner.Outputs, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
			cancel()
		}
		mu.Unlock()
	}
	outs := make([]runner.Outputs, len(xs)+1)
	readers := make([]*io.PipeReader, len(xs))
	writers := make([]*io.PipeWriter, len(xs))
	for i := range xs {
		readers[i], writers[i] = io.Pipe()
	}
	// out returns where member i writes, and how to close it.
	out := func(i int) (io.Writer, func(error)) {
		if i == len(xs) {
			return io.Discard, func(error) {}
		}
		pw := writers[i]
		return pw, func(err error) { pw.CloseWithError(err) }
	}
	wg.Add(len(xs) + 1)
	go func() {
		defer wg.Done()
		w, closeW := out(0)
		o, err := src(ctx, w)
		outs[0] = o
		if err != nil {
			fail(err)
		}
		closeW(err)
	}()
	for i, x := range xs {
		go func() {
			defer wg.Done()
			w, closeW := out(i + 1)
			o, err := x.Transform(ctx, sc, readers[i], w)
			outs[i+1] = o
			if err == nil {
				// A transform must read to the end; whatever remains means
				// trailing bytes after the end of its format.
				if n, _ := io.Copy(io.Discard, readers[i]); n > 0 {
					err = fmt.Errorf("%d bytes follow the end of the stream", n)
				}
			}
			if err != nil {
				fail(err)
				readers[i].CloseWithError(err)
			}
			closeW(err)
		}()
	}
	wg.Wait()
	return outs, first
}

// sourceOf returns a source that streams object name of b, digest-checked.
func sourceOf(sc *runner.StepContext, b blob.Backend, name string) func(ctx context.Context, w io.Writer) (runner.Outputs, error) {
	return func(ctx context.Context, w io.Writer) (runner.Outputs, error) {
		return streamObject(ctx, sc, b, name, w)
	}
}
