package steps

import (
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
)

// Outputs over the parts of a stream (dump with jobs): runner.MergePartOutputs
// sums integers, which suits byte counts; a level is a setting, the same for
// every part, and a ratio is recomputed from the sums.

var (
	_ runner.PartsMerger = (*Compress)(nil)
	_ runner.PartsMerger = (*Decompress)(nil)
)

// MergeParts implements runner.PartsMerger.
func (p *Compress) MergeParts(parts []runner.Outputs) runner.Outputs {
	out := runner.MergePartOutputs(parts)
	if len(parts) > 0 {
		out["level"] = parts[0]["level"]
	}
	out["ratio"] = streamio.Ratio(out.Int("bytes_in"), out.Int("bytes_out"))
	return out
}

// MergeParts implements runner.PartsMerger.
func (p *Decompress) MergeParts(parts []runner.Outputs) runner.Outputs {
	out := runner.MergePartOutputs(parts)
	out["ratio"] = streamio.Ratio(out.Int("bytes_out"), out.Int("bytes_in"))
	return out
}
