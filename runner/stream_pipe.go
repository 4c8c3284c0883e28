package runner

import (
	"io"
	"sync"
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

// pipe is a bounded buffer between one writer and one reader, with the
// close semantics of io.Pipe: CloseWrite(nil) ends the stream after the
// buffered bytes (io.EOF), CloseWrite(err) and CloseRead(err) fail the other
// side at once, buffered bytes or not.
type pipe struct {
	mu       sync.Mutex
	readable sync.Cond // signalled when bytes arrive or a side closes
	writable sync.Cond // signalled when room appears or a side closes
	size     int
	buf      []byte // allocated at the first write
	off, n   int    // the buffered bytes are buf[off:off+n], wrapping
	werr     error  // the writer's close: io.EOF, or its error
	rerr     error  // the reader's close: the error writes return
}

func newPipe(size int) *pipe {
	p := &pipe{size: size}
	p.readable.L, p.writable.L = &p.mu, &p.mu
	return p
}

// Write copies b into the buffer, waiting while it is full.
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
			p.writable.Wait()
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
		p.readable.Signal()
	}
	return written, nil
}

// Read copies buffered bytes to b, waiting while there are none.
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
			p.writable.Signal()
			return k, nil
		case p.werr != nil:
			return 0, io.EOF
		case len(b) == 0:
			return 0, nil
		}
		p.readable.Wait()
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
