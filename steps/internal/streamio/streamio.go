// Package streamio has the small io wrappers transform steps share: byte
// counting, cancellation between reads, and telling an error of the input
// stream apart from an error in the data it carried.
package streamio

import (
	"context"
	"fmt"
	"io"
)

// Reader counts the bytes read from R, stops with ctx's error once ctx is
// done, and remembers the first error R itself returned (other than io.EOF).
// A transform uses SourceErr to tell "the upstream step failed" from "the
// bytes are bad".
type Reader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	err error
}

// NewReader returns a Reader over r.
func NewReader(ctx context.Context, r io.Reader) *Reader {
	return &Reader{ctx: ctx, r: r}
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		r.keep(err)
		return 0, err
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF {
		r.keep(err)
	}
	return n, err
}

func (r *Reader) keep(err error) {
	if r.err == nil {
		r.err = err
	}
}

// N returns the number of bytes read so far.
func (r *Reader) N() int64 { return r.n }

// SourceErr returns the first error of the underlying reader (or ctx), nil
// if it only ever returned data and io.EOF.
func (r *Reader) SourceErr() error { return r.err }

// Writer counts the bytes written to W and remembers W's first error.
type Writer struct {
	w   io.Writer
	n   int64
	err error
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// N returns the number of bytes written so far.
func (w *Writer) N() int64 { return w.n }

// SinkErr returns the first error of the underlying writer.
func (w *Writer) SinkErr() error { return w.err }

// Explain turns err, an error from a transform's copy loop, into the
// step's error. When the source failed, the stream is at fault, not the
// data, and Explain returns "reading input: " and the source's error (a
// decoder may report its own error after a short read, e.g.
// io.ErrUnexpectedEOF, but the source's error is the cause); likewise
// "writing output: " when the sink failed. Otherwise the bytes themselves
// are bad and Explain returns data(err).
func Explain(err error, r *Reader, w *Writer, data func(error) error) error {
	if err == nil {
		return nil
	}
	if se := r.SourceErr(); se != nil {
		return fmt.Errorf("reading input: %w", se)
	}
	if we := w.SinkErr(); we != nil {
		return fmt.Errorf("writing output: %w", we)
	}
	return data(err)
}

// Ratio returns in/out, the compression ratio, or 0 when out is 0.
func Ratio(in, out int64) float64 {
	if out == 0 {
		return 0
	}
	return float64(in) / float64(out)
}
