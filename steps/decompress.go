package steps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/codec"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
)

// AlgorithmAuto makes decompress recognise zstd or gzip by its magic bytes.
const AlgorithmAuto = "auto"

// Decompress is the parameter struct of the decompress step. It reads what
// compress, `zstd` and `gzip` write, including concatenated frames or
// members. zstd frames that record their size (compress writes one per
// MiB) are decoded in parallel; a single large frame (the zstd CLI's, or a
// backup of an older sluice) is streamed, with a window of at most 128 MiB,
// the zstd CLI's own limit without --long.
type Decompress struct {
	Algorithm string `yaml:"algorithm" default:"auto" enum:"auto,zstd,gzip" doc:"compression format; auto recognises zstd or gzip by the first bytes"`
}

var _ runner.Transform = (*Decompress)(nil)

func decompressDefinition() runner.Definition {
	return runner.Definition{
		Type:    "decompress",
		Kind:    runner.KindTransform,
		Summary: "Decompress a zstd or gzip stream",
		New:     func() any { return &Decompress{} },
		Outputs: []runner.OutputSpec{
			{Name: "algorithm", Type: "string", Doc: "zstd or gzip, as found"},
			{Name: "bytes_in", Type: "int", Doc: "compressed bytes read"},
			{Name: "bytes_out", Type: "int", Doc: "decompressed bytes written"},
			{Name: "ratio", Type: "number", Doc: "bytes_out / bytes_in"},
		},
	}
}

// Transform decompresses r to w.
func (p *Decompress) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	br := bufio.NewReaderSize(in, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if len(magic) == 0 {
		return nil, errors.New("input is empty: the upstream step produced no bytes")
	}
	algo := p.Algorithm
	if algo == AlgorithmAuto {
		algo = codec.Detect(magic)
		switch {
		case algo != "":
		case bytes.HasPrefix(magic, []byte("age-")):
			return nil, errors.New("input is an age-encrypted file, not zstd or gzip: put decrypt before decompress")
		default:
			return nil, fmt.Errorf("input is neither zstd nor gzip (it starts with %x): check that decompress comes after decrypt, or set algorithm", magic)
		}
	}

	dataErr := func(err error) error {
		return fmt.Errorf("compressed input is truncated or corrupted: %s: %w", algo, err)
	}
	var n int64
	switch algo {
	case AlgorithmZstd:
		dec, err := codec.NewZstdReader(br, codec.ZstdReaderOptions{})
		if err != nil {
			return nil, err
		}
		n, err = dec.WriteTo(out)
		// Close waits for the goroutine reading the input, so that the
		// counts and errors of in are settled before Explain reads them.
		dec.Close()
		if err != nil {
			return nil, streamio.Explain(err, in, out, dataErr)
		}
	case AlgorithmGzip:
		dec, err := codec.NewGzipReader(br)
		if err != nil {
			return nil, streamio.Explain(err, in, out, dataErr)
		}
		n, err = io.Copy(out, dec)
		if err != nil {
			return nil, streamio.Explain(err, in, out, dataErr)
		}
		if err := dec.Close(); err != nil {
			return nil, dataErr(err)
		}
	}
	return runner.Outputs{
		"algorithm": algo,
		"bytes_in":  in.N(),
		"bytes_out": n,
		"ratio":     streamio.Ratio(n, in.N()),
	}, nil
}

var _ runner.PartsMerger = (*Decompress)(nil)

// MergeParts implements runner.PartsMerger: byte counts sum and the ratio is
// recomputed from the sums.
func (p *Decompress) MergeParts(parts []runner.Outputs) runner.Outputs {
	out := runner.MergePartOutputs(parts)
	out["ratio"] = streamio.Ratio(out.Int("bytes_out"), out.Int("bytes_in"))
	return out
}
