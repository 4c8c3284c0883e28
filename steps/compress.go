package steps

import (
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
)

// Compression algorithms of the compress and decompress steps.
const (
	AlgorithmZstd = "zstd"
	AlgorithmGzip = "gzip"
)

// DefaultZstdLevel is the zstd level compress uses when none is given: 1,
// klauspost's "fastest" speed. On SQL text it compresses at ~130-145 MB/s
// per core against ~90-115 MB/s at level 3 ("default"), for a ratio of 3.25
// instead of 3.42. A backup shares the machine with pg_dump (and age), so a
// pipeline at level 1 keeps up with `pg_dump | zstd -3 | age` where level 3
// would make compression the bottleneck; 5% more bytes is the cheaper cost.
const DefaultZstdLevel = 1

// DefaultGzipLevel is the gzip level compress uses when none is given: 1,
// for the same throughput-first reason as DefaultZstdLevel (gzip's own
// default, 6, is several times slower).
const DefaultGzipLevel = 1

// zstdWindow bounds the encoder's window, and so its memory: 4 MiB, what
// klauspost uses at its fastest speed, enough for SQL text. The zstd CLI
// decodes windows up to 128 MiB without options.
const zstdWindow = 4 << 20

// Compress is the parameter struct of the compress step. Its output is a
// standard zstd or gzip stream that `zstd -d` or `gzip -d` reads.
//
// level takes the numbers of the zstd CLI, 1..22, mapped to the nearest
// speed of klauspost/compress: 1-2 fastest (about zstd -1), 3-5 default
// (about zstd -3), 6-9 better (about zstd -7), 10-22 best (about zstd -11).
// For gzip, level is 1..9 as for `gzip -N`.
//
// threads (zstd only) compresses that many blocks in parallel. The default
// is 1: the step then uses about 10 MiB (40 MiB at level 19) and one core,
// which leaves the other cores of a small machine to pg_dump and age.
// Parallel compression pays off on larger machines but holds whole 16 MiB
// jobs in flight: measured 130-240 MiB with 2-4 threads.
type Compress struct {
	Algorithm string `yaml:"algorithm" default:"zstd" doc:"zstd or gzip"`
	Level     int    `yaml:"level" doc:"compression level: zstd 1..22 (CLI numbers, mapped to fastest 1-2, default 3-5, better 6-9, best 10+), gzip 1..9; default 1, chosen for throughput"`
	Threads   int    `yaml:"threads" doc:"zstd only: blocks compressed in parallel; default 1 (about 10 MiB of memory; 2 or more use 130-240 MiB)"`
}

var (
	_ runner.Transform = (*Compress)(nil)
	_ runner.Validator = (*Compress)(nil)
)

func compressDefinition() runner.Definition {
	return runner.Definition{
		Type:    "compress",
		Kind:    runner.KindTransform,
		Summary: "Compress the stream with zstd (default) or gzip",
		New:     func() any { return &Compress{Algorithm: AlgorithmZstd} },
		Outputs: []runner.OutputSpec{
			{Name: "algorithm", Type: "string", Doc: "zstd or gzip"},
			{Name: "level", Type: "int", Doc: "the level used"},
			{Name: "bytes_in", Type: "int", Doc: "uncompressed bytes read"},
			{Name: "bytes_out", Type: "int", Doc: "compressed bytes written"},
			{Name: "ratio", Type: "number", Doc: "bytes_in / bytes_out"},
		},
	}
}

// Validate checks the algorithm, level and threads.
func (p *Compress) Validate() error {
	switch p.algorithm() {
	case AlgorithmZstd:
		if p.Level < 0 || p.Level > 22 {
			return fmt.Errorf("level %d is out of range for zstd: use 1..22", p.Level)
		}
	case AlgorithmGzip:
		if p.Level < 0 || p.Level > 9 {
			return fmt.Errorf("level %d is out of range for gzip: use 1..9", p.Level)
		}
		if p.Threads > 1 {
			return fmt.Errorf("threads is for zstd only; gzip compresses on one thread: remove threads or use algorithm zstd")
		}
	default:
		return fmt.Errorf("unknown algorithm %q: use zstd or gzip", p.Algorithm)
	}
	if p.Threads < 0 {
		return fmt.Errorf("threads %d is negative: use 1 or more", p.Threads)
	}
	return nil
}

func (p *Compress) algorithm() string {
	if p.Algorithm == "" {
		return AlgorithmZstd
	}
	return p.Algorithm
}

// level returns the effective level.
func (p *Compress) level() int {
	switch {
	case p.Level > 0:
		return p.Level
	case p.algorithm() == AlgorithmGzip:
		return DefaultGzipLevel
	default:
		return DefaultZstdLevel
	}
}

// threads returns the effective zstd concurrency.
func (p *Compress) threads() int {
	return max(p.Threads, 1)
}

// Transform compresses r to w.
func (p *Compress) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	enc, err := p.newEncoder(out)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(enc, in)
	// Close even after a failure: it stops the encoder's goroutines.
	if cerr := enc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, streamio.Explain(err, in, out, func(err error) error {
			return fmt.Errorf("compressing with %s: %w", p.algorithm(), err)
		})
	}
	return runner.Outputs{
		"algorithm": p.algorithm(),
		"level":     int64(p.level()),
		"bytes_in":  in.N(),
		"bytes_out": out.N(),
		"ratio":     streamio.Ratio(in.N(), out.N()),
	}, nil
}

// newEncoder returns the compressing writer over w. Its Close flushes but
// does not close w.
func (p *Compress) newEncoder(w io.Writer) (io.WriteCloser, error) {
	if p.algorithm() == AlgorithmGzip {
		enc, err := gzip.NewWriterLevel(w, p.level())
		if err != nil {
			return nil, fmt.Errorf("starting gzip: %w", err)
		}
		return enc, nil
	}
	n := p.threads()
	enc, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.level())),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithEncoderConcurrency(n),
		zstd.WithConcurrentBlocks(n > 1),
	)
	if err != nil {
		return nil, fmt.Errorf("starting zstd: %w", err)
	}
	return enc, nil
}
