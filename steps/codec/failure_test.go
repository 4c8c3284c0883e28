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
	if err := w.Close(); err == nil {
		t.Error("close after abort succeeded: the output is incomplete")
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

// TestZstdReaderCloseStopsReadingInput: Close returns within the input's
// Read in flight, not after the rest of a frame (up to 4 MiB) or an endless
// run of skippable frames that a hostile or slow input sends in small
// pieces. After 100 pieces the input hands out one piece per token; once
// Close has begun, the test counts the tokens it takes to return.
func TestZstdReaderCloseStopsReadingInput(t *testing.T) {
	defer goleak.VerifyNone(t)
	frame := compress(t, dumpLike(MaxChunkSize, 8), ZstdOptions{Workers: 1, ChunkSize: MaxChunkSize}, 0)
	skippable := cat([]byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0x10, 0}, make([]byte, 1<<20))
	for name, input := range map[string]io.Reader{
		"inside a frame":           bytes.NewReader(frame),
		"endless skippable frames": &repeatReader{b: skippable},
	} {
		t.Run(name, func(t *testing.T) {
			in := &gatedReader{r: input, free: 100, gate: make(chan struct{})}
			r, err := NewZstdReader(in, ZstdReaderOptions{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			in.gate <- struct{}{} // the splitter has read 100 pieces and waits for this one
			closed := make(chan struct{})
			go func() {
				r.Close()
				close(closed)
			}()
			<-r.quit // Close has begun
			for tokens := 0; ; tokens++ {
				select {
				case <-closed:
					if tokens > 1 {
						t.Errorf("Close read %d more pieces of the input, want at most the one in flight", tokens)
					}
					return
				case in.gate <- struct{}{}:
					if tokens == 1000 {
						t.Fatal("Close is still reading the input after 1000 pieces")
					}
				}
			}
		})
	}
}

// gatedReader returns at most 1 KiB per Read; after its first free Reads,
// each waits for a token on gate.
type gatedReader struct {
	r    io.Reader
	free int
	gate chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.free > 0 {
		g.free--
	} else {
		<-g.gate
	}
	return g.r.Read(p[:min(len(p), 1<<10)])
}

// repeatReader repeats b forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		n, r.off = n+k, (r.off+k)%len(r.b)
	}
	return n, nil
}

// TestZstdReaderStreamsLargeWindow: a frame whose content is small but whose
// header asks for a window beyond what whole frames are decoded with (zstd
// allows it; the CLI does not write it) is streamed, not refused. Built by
// hand: content size 5 in 4 bytes, an 8 MiB window, one raw block.
func TestZstdReaderStreamsLargeWindow(t *testing.T) {
	defer goleak.VerifyNone(t)
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x80, 13 << 3, 5, 0, 0, 0, 0x29, 0, 0}
	frame = append(frame, "hello"...)
	got, err := decompress(frame, 2, 0)
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v; want hello", got, err)
	}
	if out := runZstd(t, frame, "-q", "-d", "-c"); string(out) != "hello" {
		t.Fatalf("zstd -d: %q; the hand-built frame is not valid", out)
	}
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
