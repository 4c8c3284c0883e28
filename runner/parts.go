package runner

import (
	"context"
	"io"
)

// A stream in parts: a source may decide when it runs that its stream is
// several streams (a database dumped by several pg_dump processes from one
// snapshot). The runner then runs the whole stream group once per part,
// each part with pipes of its own and at most Parts.Jobs parts at once, and
// the group succeeds or fails as one: the sinks see every part, and commit
// them together after the last one succeeded (and the asserts passed), or
// undo all of them. Plans do not change shape: the same steps joined by
// input: carry one stream or many.

// Part is one part of a stream a PartedSource splits when it runs.
type Part struct {
	// Name identifies the part within its stream; short and safe in a
	// file name ("00-pre-data", "03-data").
	Name string
	// Phase orders the parts: every part of a phase has finished before a
	// part of a later phase starts. Within a phase the parts start in
	// list order.
	Phase int
	// Info is what the source tells the sinks about the part (what a
	// manifest records of it): JSON-friendly values, never secrets.
	Info map[string]any
}

// Parts is what a PartedSource declares for one run of its stream.
type Parts struct {
	List []Part
	// Jobs is how many parts stream at once (at least 1).
	Jobs int
	// Produce writes part p's stream to w, as Source.Produce writes the
	// whole stream.
	Produce func(ctx context.Context, sc *StepContext, p Part, w io.Writer) (Outputs, error)
	// Finish, when set, gives the source's outputs from those of every
	// part (in List order), once every part succeeded; otherwise they are
	// merged as MergeParts does.
	Finish func(parts []Outputs) Outputs
	// Close, when set, releases what the source held for its parts (an
	// exported snapshot). The runner calls it once, after the last part
	// ended, whatever the outcome.
	Close func() error
}

// PartedSource is implemented by the parameters of a source whose stream
// may come in parts decided when it runs. The runner calls Parts before
// anything streams: nil means one stream, and Produce runs as for any
// source.
type PartedSource interface {
	Source
	Parts(ctx context.Context, sc *StepContext) (*Parts, error)
}

// PartedSink is implemented by the parameters of a sink that can take a
// stream in parts. A sink without it fails a group whose source declared
// parts, before anything streams.
type PartedSink interface {
	Sink
	// ConsumeParts prepares for the parts (a target to restore into, the
	// checks a single Consume makes before its stream flows).
	ConsumeParts(ctx context.Context, sc *StepContext, parts []Part) (PartConsumer, error)
}

// PartConsumer takes the parts of one stream for a PartedSink. The runner
// calls Consume once per part, concurrently for the parts of a phase, then
// either Finish, once every part succeeded, or Abort.
type PartConsumer interface {
	// Consume reads part p's stream to its end into a temporary place, as
	// Sink.Consume does, and returns the part's outputs.
	Consume(ctx context.Context, sc *StepContext, p Part, r io.Reader) (Outputs, error)
	// Finish returns the sink's outputs for the whole stream and what is
	// still to commit: a Pending whose Commit makes every part visible
	// together (its upstream is the chain with outputs merged over the
	// parts; PartResult.Upstream has each part's own), and whose Abort
	// undoes every part.
	Finish(ctx context.Context, parts []PartResult) (Outputs, Pending, error)
	// Abort undoes what the parts wrote. The runner calls it when a part
	// failed, or when Finish did; it is safe to call more than once.
	Abort() error
}

// PartResult is one part as a PartedSink's Finish sees it.
type PartResult struct {
	Part Part
	// Outputs are what the sink's Consume returned for the part.
	Outputs Outputs
	// Upstream is the chain that fed the part, source first, with that
	// part's outputs.
	Upstream []Stage
}

// PartsMerger is implemented by the parameters of a transform (or a
// source without Parts.Finish) whose outputs over the parts of a stream
// are not what MergeParts makes of them (a ratio).
type PartsMerger interface {
	MergeParts(parts []Outputs) Outputs
}
