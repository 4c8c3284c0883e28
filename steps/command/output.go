package command

import "sync"

// Head is an io.Writer that keeps the first bytes written to it and
// discards the rest, so that a chatty command cannot exhaust memory.
type Head struct {
	limit int
	buf   []byte
}

// NewHead returns a Head keeping up to limit bytes.
func NewHead(limit int) *Head { return &Head{limit: limit} }

// Write keeps what still fits. It never fails.
func (b *Head) Write(p []byte) (int, error) {
	if room := b.limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (b *Head) String() string { return string(b.buf) }

// Tail is an io.Writer that keeps the last bytes written to it: the end of
// a child process's stderr is where it says why it failed. It is safe for
// concurrent use (a server's log is read while the server writes it).
type Tail struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

// NewTail returns a Tail keeping up to limit bytes.
func NewTail(limit int) *Tail { return &Tail{limit: limit} }

// Write keeps the end of p. It never fails.
func (b *Tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit <= 0 {
		return len(p), nil
	}
	if len(p) >= b.limit {
		b.buf = append(b.buf[:0], p[len(p)-b.limit:]...)
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	// Trim only when twice the limit is held, so that trimming is amortised.
	if len(b.buf) >= 2*b.limit {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.limit:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (b *Tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > b.limit {
		return string(b.buf[len(b.buf)-b.limit:])
	}
	return string(b.buf)
}
