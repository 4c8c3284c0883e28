package steps

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
	"github.com/sluice-dev/sluice/steps/manifest"
)

func checksumDefinition() runner.Definition {
	return runner.Definition{
		Type:    "checksum",
		Kind:    runner.KindTransform,
		Summary: "Pass the stream through unchanged while computing its digest (for the manifest and a sha256sum-compatible sidecar)",
		New:     func() any { return &Checksum{} },
		Outputs: []runner.OutputSpec{
			{Name: "algorithm", Type: "string", Doc: "digest algorithm: sha256 or sha512"},
			{Name: "digest", Type: "string", Doc: "hex digest of the bytes that passed"},
			{Name: "bytes", Type: "int", Doc: "bytes that passed"},
		},
	}
}

// Checksum is the parameter struct of the checksum step, a pass-through
// transform that digests its stream.
type Checksum struct {
	Algorithm string `yaml:"algorithm" default:"sha256" enum:"sha256,sha512" doc:"digest algorithm"`
}

var _ runner.Transform = (*Checksum)(nil)

// Transform copies r to w, digesting every byte.
func (c *Checksum) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	h, err := manifest.NewHash(c.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("algorithm: %w", err)
	}
	n, err := io.Copy(io.MultiWriter(w, h), streamio.NewReader(ctx, r))
	if err != nil {
		return nil, err
	}
	return runner.Outputs{"algorithm": c.Algorithm, "digest": hex.EncodeToString(h.Sum(nil)), "bytes": n}, nil
}
