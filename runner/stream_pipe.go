package runner

import (
	"io"
	"sync"
	"time"
)

// pipeBuffer is the size of each stream edge's buffer.
//
// An unbuffered pipe (io.Pipe) makes every write wait until the reader has
// been scheduled and taken it. On a machine whose cores are shared by
// pg_dump, the database server and the steps, that wake-up latency came to
// as much as the work: in a 340 MiB backup on 2 loaded cores, dump spent
// 1.1 s of 2.7 s blocked in writes while compress spent 2.5 s blocked in
// reads, both waiting for the other to be scheduled. A buffer lets each
// side go on until it is really ahead (buffer full) or behind (empty), and
// then the time a step waits is the time its neighbour needs. It costs one
// more copy of the bytes and this much memory per edge.
const pipeBuffer = 1 << 20

// A pipe wakes a waiting reader only once a quarter of its buffer is
// filled (or the writer closes), and a waiting writer only once a quarter
// is free. Waking the other side costs a goroutine switch and often a
// thread wake-up; waking it for every write of age's 64 KiB chunks cost
// about 10% more CPU per byte (BenchmarkPipe). A side that is not waiting still
// takes whatever is there at once, and a reader waiting for a batch gets
// the bytes there are after pipeWakeDelay at the latest, so a writer that
// pauses after a small write never holds them back.
const (
	pipeWakeFraction = 4
	pipeWakeDelay    = time.Millisecond
)

// pipe is a bounded buffer between one writer and one reader, with the
// close semantics of io.Pipe: CloseWrite(nil) ends the stream after the
// buffered bytes (io.EOF), CloseWrite(err) and CloseRead(err) fail the other
// side at once, buffered bytes or not.
type pipe struct {
	mu       sync.Mutex
	readable sync.Cond // signalled when bytes arrive or a side closes
	writable sync.Cond // signalled when room appears or a side closes
	size     int
	wake     int    // bytes (to read, or room to write) worth waking the other side for
	buf      []byte // allocated at the first write
	off, n   int    // the buffered bytes are buf[off:off+n], wrapping
	werr     error  // the writer's close: io.EOF, or its error
	rerr     error  // the reader's close: the error writes return

	readerWaits, writerWaits bool
	timer                    *time.Timer // wakes a waiting reader pipeWakeDelay after a small write
	timerSet                 bool
}

func newPipe(size int) *pipe {
	p := &pipe{size: size, wake: max(size/pipeWakeFraction, 1)}
	p.readable.L, p.writable.L = &p.mu, &p.mu
	return p
}

// Write copies b into the buffer, waiting while it is full (until a
// quarter of it is free).
func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	written := 0
	if p.buf == nil && len(b) > 0 {
		p.buf = make([]byte, p.size)
	}
	for len(b) > 0 {
		switch {
		case p.rerr != nil:
			return written, p.rerr
		case p.werr != nil:
			return written, io.ErrClosedPipe
		case p.n == len(p.buf):
			p.writerWaits = true
			p.writable.Wait()
			p.writerWaits = false
			continue
		}
		end := (p.off + p.n) % len(p.buf)
		room := len(p.buf) - p.n
		if end >= p.off {
			room = min(room, len(p.buf)-end)
		}
		k := copy(p.buf[end:end+room], b)
		p.n += k
		b, written = b[k:], written+k
		switch {
		case !p.readerWaits:
		case p.n >= p.wake:
			p.readable.Signal()
		case !p.timerSet:
			p.timerSet = true
			if p.timer == nil {
				p.timer = time.AfterFunc(pipeWakeDelay, p.wakeReader)
			} else {
				p.timer.Reset(pipeWakeDelay)
			}
		}
	}
	return written, nil
}

func (p *pipe) wakeReader() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timerSet = false
	p.readable.Signal()
}

// Read copies buffered bytes to b, waiting while there are none (until a
// quarter of the buffer is filled, pipeWakeDelay has passed since the first
// bytes came, or the writer closes).
func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.rerr != nil:
			return 0, io.ErrClosedPipe
		case p.werr != nil && p.werr != io.EOF:
			return 0, p.werr
		case p.n > 0:
			k := copy(b, p.buf[p.off:min(p.off+p.n, len(p.buf))])
			p.off, p.n = (p.off+k)%len(p.buf), p.n-k
			if p.writerWaits && len(p.buf)-p.n >= p.wake {
				p.writable.Signal()
			}
			return k, nil
		case p.werr != nil:
			return 0, io.EOF
		case len(b) == 0:
			return 0, nil
		}
		p.readerWaits = true
		p.readable.Wait()
		p.readerWaits = false
	}
}

// CloseWrite ends the stream: with io.EOF after the buffered bytes when err
// is nil, with err at once otherwise. Only the first close counts.
func (p *pipe) CloseWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	p.closeSide(&p.werr, err)
}

// CloseRead stops the reader: writes fail with err (io.ErrClosedPipe when
// nil) and reads with io.ErrClosedPipe. Only the first close counts.
func (p *pipe) CloseRead(err error) {
	if err == nil {
		err = io.ErrClosedPipe
	}
	p.closeSide(&p.rerr, err)
}

// closeSide records err as how one side ended (side is p.werr or p.rerr),
// unless it already has, and wakes both ends.
func (p *pipe) closeSide(side *error, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *side == nil {
		*side = err
	}
	p.readable.Broadcast()
	p.writable.Broadcast()
}
