package codec

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// TestZstdCLIReadsOurFrames proves that the standard zstd tool reads what
// ZstdWriter writes, several frames compressed in parallel, as one stream,
// and that it is several frames indeed.
func TestZstdCLIReadsOurFrames(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := dumpLike(5<<20+12345, 2)
	for _, level := range []int{1, 3} {
		z := compress(t, plain, ZstdOptions{Level: level, Workers: 3}, 100_000)
		if n := countFrames(t, z); n != 6 {
			t.Errorf("level %d: %d frames, want 6 (one per MiB)", level, n)
		}
		if got := runZstd(t, z, "-d", "-c"); !bytes.Equal(got, plain) {
			t.Fatalf("level %d: zstd -d of our stream differs", level)
		}
		runZstd(t, z, "-t") // and its integrity test passes
	}
}

// TestZstdReadsCLIStreams proves that ZstdReader reads what the zstd tool
// writes: one frame without a content size from a pipe (single- and
// multi-threaded), one frame with it from a file (small: decoded as a
// unit; large: streamed), and these mixed with our frames and with
// skippable frames.
func TestZstdReadsCLIStreams(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := dumpLike(6<<20, 3)
	small := plain[:300<<10]
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bigFile, smallFile := file("big", plain), file("small", small)
	skippable := func(payload []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, 0x184D2A5E)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	ours := compress(t, small, ZstdOptions{Workers: 2, ChunkSize: 64 << 10}, 0)
	cases := []struct {
		name   string
		stream []byte
		want   []byte
	}{
		{"pipe -1", runZstd(t, plain, "-q", "-1", "-c"), plain},
		{"pipe -1 -T0", runZstd(t, plain, "-q", "-1", "-T0", "-c"), plain},
		{"pipe -19", runZstd(t, small, "-q", "-19", "-c"), small},
		{"file of 6 MiB (content size above the unit limit)", runZstd(t, nil, "-q", "-1", "-c", bigFile), plain},
		{"file of 300 KiB (content size recorded)", runZstd(t, nil, "-q", "-3", "-c", smallFile), small},
		{"ours, then the CLI's, then ours", cat(ours, runZstd(t, plain, "-q", "-c"), ours), cat(small, plain, small)},
		{"skippable frames between ours", cat(skippable([]byte("index")), ours, skippable(make([]byte, 100<<10)), ours), cat(small, small)},
		{"an empty stream's frame", runZstd(t, nil, "-q", "-c"), nil},
	}
	for _, c := range cases {
		for _, workers := range []int{1, 4} {
			for _, step := range []int{0, 4096} {
				got, err := decompress(c.stream, workers, step)
				if err != nil {
					t.Fatalf("%s (workers %d, step %d): %v", c.name, workers, step, err)
				}
				if !bytes.Equal(got, c.want) {
					t.Fatalf("%s (workers %d, step %d): %d bytes differ from the %d written", c.name, workers, step, len(got), len(c.want))
				}
			}
		}
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
