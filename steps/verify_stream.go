package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// streamChain runs a source into a chain of transforms whose last output is
// discarded, each in its own goroutine joined by pipes, as the runner runs a
// stream group. It returns each member's outputs (source first) and the
// error of the first member in chain order that failed. A transform that
// fails keeps draining its input, so the source always reads the whole
// object and its digest verdict is known: a corrupted object is reported as
// a digest mismatch, deterministically, rather than as whichever decoder
// tripped first; a later member's failure is only the cause when the bytes
// upstream of it were good.
func streamChain(ctx context.Context, sc *runner.StepContext, src func(ctx context.Context, w io.Writer) (runner.Outputs, error), xs []runner.Transform) ([]runner.Outputs, error) {
	var wg sync.WaitGroup
	outs := make([]runner.Outputs, len(xs)+1)
	errs := make([]error, len(xs)+1)
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
		outs[0], errs[0] = src(ctx, w)
		closeW(errs[0])
	}()
	for i, x := range xs {
		go func() {
			defer wg.Done()
			w, closeW := out(i + 1)
			o, err := x.Transform(ctx, sc, readers[i], w)
			outs[i+1] = o
			// Whatever remains is read and dropped: after a failure, so that
			// upstream finishes; after success, it is bytes that follow the
			// end of the format.
			n, _ := io.Copy(io.Discard, readers[i])
			if err == nil && n > 0 {
				err = fmt.Errorf("%d bytes follow the end of the stream", n)
			}
			errs[i+1] = err
			closeW(err)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return outs, err
		}
	}
	return outs, nil
}

// sourceOf returns a source that streams object name of b, digest-checked
// against its manifest m, which passed the signature gate. Failures to read
// storage come back as *unreadableError.
func sourceOf(sc *runner.StepContext, b blob.Backend, name string, m *manifest.Manifest) func(ctx context.Context, w io.Writer) (runner.Outputs, error) {
	return func(ctx context.Context, w io.Writer) (runner.Outputs, error) {
		return streamObject(ctx, sc, markReads{b}, name, m, w)
	}
}

// unreadableError is a failure to read storage (not a missing object): the
// backup could not be checked.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string { return e.err.Error() }
func (e *unreadableError) Unwrap() error { return e.err }

// markReads is a backend whose opens and reads report their failures as
// *unreadableError, except a missing object, which is a finding.
type markReads struct{ blob.Backend }

func (m markReads) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := m.Backend.Open(ctx, name)
	if err != nil {
		if errors.Is(err, blob.ErrNotExist) {
			return nil, err
		}
		return nil, &unreadableError{err}
	}
	return markedReader{rc}, nil
}

type markedReader struct{ io.ReadCloser }

func (r markedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &unreadableError{err}
	}
	return n, err
}
