package runner

import (
	"bytes"
	"io"
	"sync"
)

// Writer returns a writer that redacts what passes through it to w. It
// buffers until a newline, so a secret split across Write calls of one line
// is still caught. The returned writer also has a Flush() error method that
// writes a trailing partial line; it is safe for concurrent use.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	return &redactWriter{r: r, w: w}
}

// maxPending is how much of an unfinished line the writer holds before it
// writes the part that cannot hold the start of a secret.
const maxPending = 64 << 10

type redactWriter struct {
	mu  sync.Mutex
	r   *Redactor
	w   io.Writer
	buf []byte
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.buf = append(rw.buf, p...)
	if i := bytes.LastIndexByte(rw.buf, '\n'); i >= 0 {
		if err := rw.emit(i + 1); err != nil {
			return 0, err
		}
	}
	if len(rw.buf) > maxPending {
		if err := rw.emit(rw.safeCut()); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes whatever is buffered, redacted.
func (rw *redactWriter) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.emit(len(rw.buf))
}

// emit writes buf[:n] redacted and keeps the rest.
func (rw *redactWriter) emit(n int) error {
	if n <= 0 {
		return nil
	}
	out := rw.r.Redact(string(rw.buf[:n]))
	rest := copy(rw.buf, rw.buf[n:])
	rw.buf = rw.buf[:rest]
	_, err := io.WriteString(rw.w, out)
	return err
}

// safeCut returns how much of buf can be written now: a cut that no secret
// occurrence crosses and after which no secret can still be completed by
// later writes.
func (rw *redactWriter) safeCut() int {
	if rw.r == nil || rw.r.maxLen == 0 {
		return len(rw.buf)
	}
	cut := len(rw.buf) - (rw.r.maxLen - 1)
	for moved := true; moved && cut > 0; {
		moved = false
		for _, p := range rw.r.patterns {
			// An occurrence crossing the cut starts in (cut-len(p), cut).
			from := max(cut-len(p.text)+1, 0)
			i := bytes.Index(rw.buf[from:min(cut+len(p.text)-1, len(rw.buf))], []byte(p.text))
			if i >= 0 && from+i < cut {
				cut = from + i
				moved = true
			}
		}
	}
	return cut
}
