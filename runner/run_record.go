package runner

import (
	"context"
	"time"
)

// record is the final state of a step, or of one item of a for_each step.
type record struct {
	status   Status
	started  time.Time
	finished time.Time
	attempts int
	err      error
	outputs  Outputs
	bytes    *ByteCounts
	gates    []GateResult
	run      *Report // the run of the plan the step called (its last attempt)
}

// itemRun is the record of one item of a for_each step.
type itemRun struct {
	key any // a map's key (string) or a list's index (int)
	record
}

// attemptResult is the outcome of one attempt of one step.
type attemptResult struct {
	outs      Outputs
	err       error
	permanent bool // retrying cannot help (a bad parameter, a failed gate)
	gates     []GateResult
	bytes     *ByteCounts
	run       *Report
}

// conclude turns the last attempt of a step (or item) into its record: a
// failure after ctx ended is a cancellation, with the reason ctx ended.
func (r *run) conclude(ctx context.Context, res attemptResult, started time.Time, attempts int) record {
	rec := record{status: StatusSucceeded, err: res.err, started: started, finished: time.Now(), attempts: attempts,
		outputs: res.outs, bytes: res.bytes, gates: res.gates, run: res.run}
	switch {
	case res.err == nil:
	case ctx.Err() != nil:
		rec.status, rec.err = StatusCancelled, r.stopCause(ctx)
	default:
		rec.status = StatusFailed
	}
	return rec
}

// cancelled is the record of a step (or item) that never finished because
// of why.
func cancelled(why error) record {
	return record{status: StatusCancelled, err: why}
}

// skipped is the record of a step (or item) that did not run.
func skipped() record { return record{status: StatusSkipped} }

// finish stores s's record, logs it and stops the run on a failure that is
// not allowed to continue.
func (r *run) finish(s *Step, rec record, items []*itemRun) {
	r.update(s.ID, func(sr *stepRun) {
		sr.record = rec
		sr.items = items
	})
	if rec.status == StatusSkipped {
		return
	}
	r.log.Info("step finished", "step", s.ID, "status", rec.status)
	if rec.status == StatusFailed {
		r.log.Error("step failed", "step", s.ID, "error", r.red.Redact(rec.err.Error()))
		if !s.ContinueOnError {
			r.fail(s.ID, rec.err)
		}
	}
}

// skip records that s did not run, and why.
func (r *run) skip(s *Step, why string) {
	r.update(s.ID, func(sr *stepRun) { sr.record = skipped() })
	r.log.Info("step skipped", "step", s.ID, "reason", r.red.Redact(why))
}
