package codec

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// NewGzipWriter returns a gzip writer at level (1..9, 0: DefaultGzipLevel)
// over w. Its Close flushes but does not close w. gzip compresses on one
// goroutine.
func NewGzipWriter(w io.Writer, level int) (io.WriteCloser, error) {
	if level == 0 {
		level = DefaultGzipLevel
	}
	enc, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, fmt.Errorf("starting gzip: %w", err)
	}
	return enc, nil
}

// NewGzipReader returns a reader of the gzip stream r, concatenated members
// included. Read fails on a stream that ends early or whose checksum does
// not match.
func NewGzipReader(r io.Reader) (io.ReadCloser, error) {
	return gzip.NewReader(r)
}
