package codec

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/sluice-dev/sluice/runner/testenv"
)

// The benchmarks compare ZstdWriter and ZstdReader with the zstd CLI on the
// same data in the same run: `zstd -1 -T0` (the tuned shell pipeline's
// codec) and `zstd -d`. Besides MB/s of plaintext they report MB per CPU
// second (user+sys of the process, the CLI's own for the CLI), which a
// shared machine disturbs less than wall time, and the ratio.
//
//	go test ./steps/codec -run '^$' -bench . -benchtime 5x -count 3
//
// They compress 64 MiB of dumpLike data, or the file SLUICE_BENCH_FILE
// names (up to 256 MiB of it), for example a custom- or plain-format
// pg_dump of bench/pipeline.sh's database:
//
//	SLUICE_BENCH_FILE=/tmp/bench.sql go test ./steps/codec -run '^$' -bench Window -count 3

const benchSize = 64 << 20

var benchData = sync.OnceValue(func() []byte {
	name := os.Getenv("SLUICE_BENCH_FILE")
	if name == "" {
		return dumpLike(benchSize, 9)
	}
	f, err := os.Open(name)
	if err != nil {
		panic(fmt.Sprintf("SLUICE_BENCH_FILE: %v", err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256<<20))
	if err != nil {
		panic(fmt.Sprintf("SLUICE_BENCH_FILE: %v", err))
	}
	return b
})

func BenchmarkZstdEncode(b *testing.B) {
	plain := benchData()
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("sluice/level=1/workers=%d", workers), func(b *testing.B) {
			var out int
			benchCPU(b, len(plain), func() {
				var n countWriter
				z, err := NewZstdWriter(&n, ZstdOptions{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := z.ReadFrom(bytes.NewReader(plain)); err != nil {
					b.Fatal(err)
				}
				if err := z.Close(); err != nil {
					b.Fatal(err)
				}
				out = int(n)
			})
			b.ReportMetric(float64(len(plain))/float64(out), "ratio")
		})
	}
	b.Run("zstd-cli/-1/-T0", func(b *testing.B) {
		var out int
		benchCLI(b, plain, len(plain), &out, "-q", "-1", "-T0", "-c")
		b.ReportMetric(float64(len(plain))/float64(out), "ratio")
	})
}

// BenchmarkZstdWindow compresses the data in independent frames on one
// goroutine, with klauspost/compress's fastest encoder as ZstdWriter sets it
// up, for several chunk (frame) and window sizes, and reports besides the
// speed the stored size against `zstd -1 -T0`'s on the same data
// (size/cli). It shows why ZstdWriter's frames are 1 MiB with a window of
// the whole frame: see docs/performance.md.
func BenchmarkZstdWindow(b *testing.B) {
	plain := benchData()
	cli := len(runZstd(b, plain, "-q", "-1", "-T0", "-c"))
	for _, c := range []struct{ chunk, window int }{
		{1 << 20, 1 << 20}, // the default
		{1 << 20, 512 << 10},
		{1 << 20, 128 << 10},
		{256 << 10, 256 << 10},
		{4 << 20, 4 << 20},
	} {
		b.Run(fmt.Sprintf("chunk=%dK/window=%dK", c.chunk>>10, c.window>>10), func(b *testing.B) {
			enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(c.window), zstd.WithEncoderLevel(zstd.SpeedFastest),
				zstd.WithEncoderConcurrency(1), zstd.WithSingleSegment(true))
			if err != nil {
				b.Fatal(err)
			}
			defer enc.Close()
			out := make([]byte, 0, enc.MaxEncodedSize(c.chunk))
			var size int
			benchCPU(b, len(plain), func() {
				size = 0
				for p := plain; len(p) > 0; {
					k := min(len(p), c.chunk)
					out = enc.EncodeAll(p[:k], out[:0])
					size += len(out)
					p = p[k:]
				}
			})
			b.ReportMetric(float64(len(plain))/float64(size), "ratio")
			b.ReportMetric(float64(size)/float64(cli), "size/cli")
		})
	}
}

func BenchmarkZstdDecode(b *testing.B) {
	plain := benchData()
	ours := compress(b, plain, ZstdOptions{}, 0)
	cli := runZstd(b, plain, "-q", "-1", "-T0", "-c")
	for _, in := range []struct {
		name   string
		stream []byte
	}{{"frames", ours}, {"cli-frame", cli}} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("sluice/%s/workers=%d", in.name, workers), func(b *testing.B) {
				benchCPU(b, len(plain), func() {
					z, err := NewZstdReader(bytes.NewReader(in.stream), ZstdReaderOptions{Workers: workers})
					if err != nil {
						b.Fatal(err)
					}
					n, err := z.WriteTo(io.Discard)
					z.Close()
					if err != nil || n != int64(len(plain)) {
						b.Fatalf("decoded %d bytes: %v", n, err)
					}
				})
			})
		}
		b.Run("zstd-cli/"+in.name+"/-d", func(b *testing.B) {
			var out int
			benchCLI(b, in.stream, len(plain), &out, "-q", "-d", "-c")
			if out != len(plain) {
				b.Fatalf("zstd -d wrote %d bytes", out)
			}
		})
	}
}

// benchCPU runs op b.N times and reports MB/s of size (plaintext bytes)
// and MB per CPU second of this process.
func benchCPU(b *testing.B, size int, op func()) {
	b.SetBytes(int64(size))
	c0 := selfCPU()
	for b.Loop() {
		op()
	}
	cpu := selfCPU() - c0
	b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// benchCLI runs the zstd CLI b.N times with stdin and reports as benchCPU,
// counting the CLI's CPU instead of ours.
func benchCLI(b *testing.B, stdin []byte, size int, out *int, args ...string) {
	bin := testenv.LookPath(b, "zstd", "apt-get install -y zstd")
	var cpu time.Duration
	b.SetBytes(int64(size))
	for b.Loop() {
		var n countWriter
		cmd := exec.Command(bin, args...)
		cmd.Stdin, cmd.Stdout = bytes.NewReader(stdin), &n
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		*out = int(n)
	}
	b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
