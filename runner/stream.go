package runner

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// streamNet is the wiring of one attempt of a stream group: a pipe per edge,
// a counting writer per producer and a counting reader per consumer. Memory
// does not grow with the data: each pipe holds at most pipeBuffer bytes.
type streamNet struct {
	once   sync.Once
	failed atomic.Value // failure: set by fail before any pipe is closed
	pipes  []*pipe
	outs   map[string]*countWriter // producer id -> its output
	ins    map[string]*countReader // consumer id -> its input
}

// newStreamNet wires producers to consumers. consumers maps a producer id to
// the ids reading its output; a producer without consumers writes to a
// counter that discards.
func newStreamNet(producers []string, consumers map[string][]string) *streamNet {
	n := &streamNet{outs: map[string]*countWriter{}, ins: map[string]*countReader{}}
	for _, p := range producers {
		var ws []*pipe
		for _, c := range consumers[p] {
			pp := newPipe(pipeBuffer)
			n.pipes = append(n.pipes, pp)
			n.ins[c] = &countReader{r: pp, net: n}
			ws = append(ws, pp)
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
			p.CloseWrite(err)
			p.CloseRead(err)
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
			w.CloseWrite(err) // nil err: readers see io.EOF after the buffered bytes
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
type tee struct{ ws []*pipe }

func newTee(ws []*pipe) io.Writer {
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

// countWriter counts the bytes written through it and the time its writes
// were blocked: a pipe write returns only when the consumers have taken
// every byte, so that is the time the producer waited for them. Both are
// safe to read while writes go on.
type countWriter struct {
	w    io.Writer
	n    atomic.Int64
	wait atomic.Int64 // nanoseconds blocked in Write
	net  *streamNet
	// expected is the size its source expects to write
	// (StepContext.ExpectBytes); 0: unknown.
	expected atomic.Int64
	// checking is how many bytes its source read to check before writing
	// any (StepContext.Checking).
	checking atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	start := time.Now()
	k, err := c.w.Write(p)
	c.wait.Add(int64(time.Since(start)))
	c.n.Add(int64(k))
	return k, c.net.explain(err)
}

// countReader counts the bytes read through it and the time its reads were
// blocked (waiting for the producer), and remembers whether it saw the end
// of the stream.
type countReader struct {
	r    io.Reader
	n    atomic.Int64
	wait atomic.Int64 // nanoseconds blocked in Read
	eof  atomic.Bool
	net  *streamNet
}

func (c *countReader) Read(p []byte) (int, error) {
	start := time.Now()
	k, err := c.r.Read(p)
	c.wait.Add(int64(time.Since(start)))
	c.n.Add(int64(k))
	if err == io.EOF {
		c.eof.Store(true)
	}
	return k, c.net.explain(err)
}

// stats returns the stream counts of member id, which ran for elapsed.
func (n *streamNet) stats(id string, elapsed time.Duration) *ByteCounts {
	b := &ByteCounts{}
	var wait time.Duration
	if in := n.ins[id]; in != nil {
		w := time.Duration(in.wait.Load())
		b.In, b.InWaitSeconds, wait = in.n.Load(), w.Seconds(), wait+w
	}
	if out := n.outs[id]; out != nil {
		w := time.Duration(out.wait.Load())
		b.Out, b.OutWaitSeconds, wait = out.n.Load(), w.Seconds(), wait+w
	}
	// A step that reads and writes on different goroutines may wait on
	// both at once; its busy time is then an estimate from below.
	b.BusySeconds = max(elapsed-wait, 0).Seconds()
	return b
}
