package codec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestZstdReaderDecodesFramesAsUnits checks which path a stream takes: our
// frames and small CLI files are decoded as units (in parallel); a frame
// without a content size switches to the streaming decoder.
func TestZstdReaderDecodesFramesAsUnits(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := dumpLike(3<<20, 4)
	for _, c := range []struct {
		name     string
		stream   []byte
		streamed bool
	}{
		{"ours", compress(t, plain, ZstdOptions{Workers: 2}, 0), false},
		{"zstd -T0 from a pipe", runZstd(t, plain, "-q", "-1", "-T0", "-c"), true},
	} {
		z, err := NewZstdReader(bytes.NewReader(c.stream), ZstdReaderOptions{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := z.WriteTo(&got); err != nil || !bytes.Equal(got.Bytes(), plain) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (z.stream != nil) != c.streamed {
			t.Errorf("%s: streamed = %v, want %v", c.name, z.stream != nil, c.streamed)
		}
		z.Close()
	}
}

// TestZstdReaderCorrupt proves that a damaged stream is an error, never a
// short or altered result: cut anywhere (in a frame header, a block header,
// a block, the checksum, between frames it is a clean end only at a frame
// boundary), a flipped byte, a stray tail.
func TestZstdReaderCorrupt(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := dumpLike(600<<10, 5)
	z := compress(t, plain, ZstdOptions{Workers: 2, ChunkSize: 128 << 10}, 0)
	cli := runZstd(t, plain, "-q", "-c")
	for name, stream := range map[string][]byte{"ours": z, "cli": cli} {
		for _, cut := range []int{1, 4, 5, 6, 9, 12, 100, len(stream) / 3, len(stream) / 2, len(stream) - 5, len(stream) - 1} {
			got, err := decompress(stream[:cut], 2, 0)
			if err == nil {
				// A cut exactly between two of our frames is a shorter valid
				// stream; it must then be a prefix of the input.
				if name == "ours" && bytes.HasPrefix(plain, got) && countFrames(t, stream[:cut]) > 0 {
					continue
				}
				t.Errorf("%s cut at %d of %d: no error (%d bytes out)", name, cut, len(stream), len(got))
			}
		}
		for _, at := range []int{len(stream) / 4, len(stream) / 2, len(stream) - 2} {
			bad := bytes.Clone(stream)
			bad[at] ^= 0x55
			if got, err := decompress(bad, 2, 0); err == nil && !bytes.Equal(got, plain) {
				t.Errorf("%s with byte %d flipped: altered output and no error", name, at)
			} else if err == nil {
				t.Errorf("%s with byte %d flipped: no error", name, at)
			}
		}
		if _, err := decompress(cat(stream, []byte("trailing garbage")), 2, 0); err == nil {
			t.Errorf("%s followed by garbage: no error", name)
		}
	}
	if _, err := decompress([]byte("COPY public.orders"), 2, 0); err == nil {
		t.Error("plain text read as zstd")
	}
}

// TestZstdWriterStopsOnOutputError: when the destination fails, Write and
// Close return its error and every goroutine ends.
func TestZstdWriterStopsOnOutputError(t *testing.T) {
	defer goleak.VerifyNone(t)
	boom := errors.New("pipe closed by the next step")
	z, err := NewZstdWriter(failAfter{n: 1}.writer(boom), ZstdOptions{Workers: 2, ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	plain := dumpLike(4<<20, 6)
	_, werr := z.Write(plain)
	cerr := z.Close()
	if !errors.Is(werr, boom) && !errors.Is(cerr, boom) {
		t.Fatalf("write: %v, close: %v: want %v", werr, cerr, boom)
	}
}

// TestZstdCancel: a compressor aborted mid-stream and a reader closed
// mid-stream, or whose input fails, end all their goroutines.
func TestZstdCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := dumpLike(8<<20, 7)

	w, err := NewZstdWriter(io.Discard, ZstdOptions{Workers: 4, ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain[:1<<20]); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := w.Write(plain[:10]); err == nil {
		t.Error("write after abort succeeded")
	}

	stream := compress(t, plain, ZstdOptions{Workers: 2, ChunkSize: 64 << 10}, 0)
	r, err := NewZstdReader(bytes.NewReader(stream), ZstdReaderOptions{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 10)); err == nil {
		t.Error("read after close succeeded")
	}

	// The input is a pipe cut by its writer: the error reaches the reader
	// after the frames that arrived whole.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(stream[:len(stream)/2])
		<-ctx.Done()
		pw.CloseWithError(context.Cause(ctx))
	}()
	r, err = NewZstdReader(pr, ZstdReaderOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	n, err := r.WriteTo(io.Discard)
	if !errors.Is(err, context.Canceled) || n == 0 || n >= int64(len(plain)) {
		t.Errorf("reading a cancelled pipe: %d bytes, %v; want some bytes, then context.Canceled", n, err)
	}
	r.Close()
}

type failAfter struct{ n int }

// writer returns a writer that accepts f.n writes, then fails with err.
func (f failAfter) writer(err error) io.Writer {
	n := f.n
	return writerFunc(func(p []byte) (int, error) {
		if n == 0 {
			return 0, err
		}
		n--
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestDetect(t *testing.T) {
	if Detect([]byte{0x28, 0xb5, 0x2f, 0xfd, 0}) != Zstd || Detect([]byte{0x1f, 0x8b, 8}) != Gzip || Detect([]byte("age-encryption.org")) != "" {
		t.Error("Detect")
	}
	if !strings.Contains(errCorrupt.Error(), "zstd") {
		t.Error(errCorrupt)
	}
}
