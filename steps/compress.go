package steps

import (
	"context"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/codec"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
)

// Compression algorithms of the compress and decompress steps.
const (
	AlgorithmZstd = codec.Zstd
	AlgorithmGzip = codec.Gzip
)

// Compress is the parameter struct of the compress step. Its output is a
// standard zstd or gzip stream that `zstd -d` or `gzip -d` reads.
//
// level takes the numbers of the zstd CLI, 1..22, mapped to the nearest
// speed of klauspost/compress: 1-2 fastest (about zstd -1), 3-5 default
// (about zstd -3), 6-9 better (about zstd -7), 10-22 best (about zstd -11).
// For gzip, level is 1..9 as for `gzip -N`.
//
// threads (zstd only) is how many 1 MiB chunks are compressed at once, each
// into its own frame (codec.ZstdWriter); 0 chooses from the machine
// (codec.EncodeWorkers: GOMAXPROCS-2, at least 2, at most 4). Memory is
// about 6 MiB per thread at level 1.
type Compress struct {
	Algorithm string `yaml:"algorithm" default:"zstd" enum:"zstd,gzip" doc:"compression format"`
	Level     int    `yaml:"level" default:"1" doc:"compression level: zstd 1..22 (CLI numbers, mapped to fastest 1-2, default 3-5, better 6-9, best 10+), gzip 1..9; 1 is chosen for throughput"`
	Threads   int    `yaml:"threads" doc:"zstd only: 1 MiB chunks compressed at once, each an independent frame; unset (0): from the machine, GOMAXPROCS-2, at least 2, at most 4 (about 6 MiB of memory each)"`
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
		New:     func() any { return &Compress{} },
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
	switch p.Algorithm {
	case AlgorithmZstd:
		if p.Level < 1 || p.Level > 22 {
			return fmt.Errorf("level %d is out of range for zstd: use 1..22", p.Level)
		}
	case AlgorithmGzip:
		if p.Level < 1 || p.Level > 9 {
			return fmt.Errorf("level %d is out of range for gzip: use 1..9", p.Level)
		}
		if p.Threads > 1 {
			return fmt.Errorf("threads is for zstd only; gzip compresses on one thread: remove threads or use algorithm zstd")
		}
	}
	if p.Threads < 0 {
		return fmt.Errorf("threads %d is negative: use 1 or more", p.Threads)
	}
	return nil
}

// Transform compresses r to w.
func (p *Compress) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	explain := func(err error) error {
		return streamio.Explain(err, in, out, func(err error) error {
			return fmt.Errorf("compressing with %s: %w", p.Algorithm, err)
		})
	}
	if p.Algorithm == AlgorithmGzip {
		enc, err := codec.NewGzipWriter(out, p.Level)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(enc, in); err != nil {
			return nil, explain(err)
		}
		if err := enc.Close(); err != nil {
			return nil, explain(err)
		}
	} else {
		enc, err := codec.NewZstdWriter(out, codec.ZstdOptions{Level: p.Level, Workers: p.Threads})
		if err != nil {
			return nil, err
		}
		if _, err := enc.ReadFrom(in); err != nil {
			enc.Abort()
			return nil, explain(err)
		}
		if err := enc.Close(); err != nil {
			return nil, explain(err)
		}
	}
	return runner.Outputs{
		"algorithm": p.Algorithm,
		"level":     int64(p.Level),
		"bytes_in":  in.N(),
		"bytes_out": out.N(),
		"ratio":     streamio.Ratio(in.N(), out.N()),
	}, nil
}

var _ runner.PartsMerger = (*Compress)(nil)

// MergeParts implements runner.PartsMerger for a stream in parts (dump with
// jobs): byte counts sum, the level is the same setting for every part, and
// the ratio is recomputed from the sums.
func (p *Compress) MergeParts(parts []runner.Outputs) runner.Outputs {
	out := runner.MergePartOutputs(parts)
	if len(parts) > 0 {
		out["level"] = parts[0]["level"]
	}
	out["ratio"] = streamio.Ratio(out.Int("bytes_in"), out.Int("bytes_out"))
	return out
}
