package runner

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// streamNet is the wiring of one attempt of a stream group: a pipe per edge,
// a counting writer per producer and a counting reader per consumer. Memory
// does not grow with the data: io.Pipe hands each chunk from writer to
// reader without a buffer.
type streamNet struct {
	once   sync.Once
	failed atomic.Value // failure: set by fail before any pipe is closed
	pipes  []*edgePipe
	outs   map[string]*countWriter // producer id -> its output
	ins    map[string]*countReader // consumer id -> its input
}

type edgePipe struct {
	r *io.PipeReader
	w *io.PipeWriter
}

// newStreamNet wires producers to consumers. consumers maps a producer id to
// the ids reading its output; a producer without consumers writes to a
// counter that discards.
func newStreamNet(producers []string, consumers map[string][]string) *streamNet {
	n := &streamNet{outs: map[string]*countWriter{}, ins: map[string]*countReader{}}
	for _, p := range producers {
		var ws []*io.PipeWriter
		for _, c := range consumers[p] {
			pr, pw := io.Pipe()
			n.pipes = append(n.pipes, &edgePipe{r: pr, w: pw})
			n.ins[c] = &countReader{r: pr, net: n}
			ws = append(ws, pw)
		}
		n.outs[p] = &countWriter{w: newTee(ws), net: n}
	}
	return n
}

// fail closes every pipe of the net with err, so that no member mistakes a
// failure for a clean end of stream. Only the first call has an effect; it
// reports whether it was the first.
func (n *streamNet) fail(err error) (first bool) {
	n.once.Do(func() {
		first = true
		n.failed.Store(failure{err})
		for _, p := range n.pipes {
			p.w.CloseWithError(err)
			p.r.CloseWithError(err)
		}
	})
	return first
}

type failure struct{ err error }

// failure returns the error given to fail, or nil.
func (n *streamNet) failure() error {
	if f, ok := n.failed.Load().(failure); ok {
		return f.err
	}
	return nil
}

// explain replaces the io.ErrClosedPipe that a pipe end closed by fail
// returns with the group's error, so that every member sees why.
func (n *streamNet) explain(err error) error {
	if err != nil && err != io.EOF {
		if f := n.failure(); f != nil {
			return f
		}
	}
	return err
}

// finishProducer closes a producer's outgoing pipes: with io.EOF for its
// readers when err is nil, with err otherwise.
func (n *streamNet) finishProducer(id string, err error) {
	out := n.outs[id]
	if out == nil {
		return
	}
	if t, ok := out.w.(*tee); ok {
		for _, w := range t.ws {
			w.CloseWithError(err) // nil err: readers see io.EOF
		}
	}
}

// errNotDrained is returned for a consumer that returned successfully before
// reading its input to the end: the bytes after that point would be lost.
var errNotDrained = errors.New("returned before reading its input to the end: the step type must read its whole input or fail")

// checkDrained verifies that a consumer which returned nil read its whole
// input. It reads at most one byte, waiting for the producer to finish.
func (n *streamNet) checkDrained(id string) error {
	in := n.ins[id]
	if in == nil || in.eof.Load() {
		return nil
	}
	var one [1]byte
	k, err := in.Read(one[:])
	switch {
	case k > 0:
		return errNotDrained
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	}
	return nil
}

// tee writes each chunk to every branch in turn, so the slowest branch sets
// the pace. A failed branch fails the write.
type tee struct{ ws []*io.PipeWriter }

func newTee(ws []*io.PipeWriter) io.Writer {
	if len(ws) == 0 {
		return io.Discard
	}
	return &tee{ws: ws}
}

func (t *tee) Write(p []byte) (int, error) {
	for _, w := range t.ws {
		if _, err := w.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// countWriter counts the bytes written through it. Count is safe to read
// while writes go on.
type countWriter struct {
	w   io.Writer
	n   atomic.Int64
	net *streamNet
}

func (c *countWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n.Add(int64(k))
	return k, c.net.explain(err)
}

// countReader counts the bytes read through it and remembers whether it saw
// the end of the stream.
type countReader struct {
	r   io.Reader
	n   atomic.Int64
	eof atomic.Bool
	net *streamNet
}

func (c *countReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	if err == io.EOF {
		c.eof.Store(true)
	}
	return k, c.net.explain(err)
}

// formatBytes renders n in binary units, e.g. "12.5 MiB".
func formatBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	i := -1
	for n >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
