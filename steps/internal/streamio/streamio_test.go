package streamio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestExplain(t *testing.T) {
	data := func(err error) error { return errors.New("bad data: " + err.Error()) }

	r := NewReader(context.Background(), strings.NewReader("hello"))
	w := NewWriter(&bytes.Buffer{})
	if _, err := io.Copy(w, r); err != nil || r.N() != 5 || w.N() != 5 {
		t.Fatalf("copy: %v, read %d, wrote %d", err, r.N(), w.N())
	}
	if r.SourceErr() != nil {
		t.Errorf("io.EOF counted as a source error: %v", r.SourceErr())
	}
	if got := Explain(io.ErrUnexpectedEOF, r, w, data).Error(); got != "bad data: unexpected EOF" {
		t.Errorf("data error explained as %q", got)
	}

	boom := errors.New("boom")
	r = NewReader(context.Background(), io.MultiReader(strings.NewReader("x"), errReader{boom}))
	io.Copy(io.Discard, r)
	if got := Explain(io.ErrUnexpectedEOF, r, w, data); !errors.Is(got, boom) || got.Error() != "reading input: boom" {
		t.Errorf("source error explained as %v", got)
	}

	w = NewWriter(failWriter{boom})
	r = NewReader(context.Background(), strings.NewReader("x"))
	_, err := io.Copy(w, r)
	if got := Explain(err, r, w, data); got.Error() != "writing output: boom" {
		t.Errorf("sink error explained as %v", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = NewReader(ctx, strings.NewReader("x"))
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
	if Ratio(10, 0) != 0 || Ratio(10, 4) != 2.5 {
		t.Error("Ratio")
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
