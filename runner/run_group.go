package runner

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runGroup runs a stream group without for_each and records every
// member's outcome.
func (r *run) runGroup(ctx context.Context, u *unit) {
	recs, whys := r.groupRecords(ctx, u, nil)
	for _, s := range u.steps {
		if rec := recs[s.ID]; rec.status == StatusSkipped {
			r.skip(s, whys[s.ID])
		} else {
			r.finish(s, rec, nil)
		}
	}
}

// groupRecords runs a stream group for item it (nil without for_each):
// each member's when, then attempts of the whole group under the source's
// retry policy. It returns every member's record, and why those skipped
// were.
func (r *run) groupRecords(ctx context.Context, u *unit, it *item) (map[string]record, map[string]string) {
	recs := make(map[string]record, len(u.steps))
	whys := map[string]string{}
	inUnit := make(map[string]bool, len(u.steps))
	for _, s := range u.steps {
		inUnit[s.ID] = true
	}
	env := r.itemEnv(ctx, it)
	live := map[string]bool{}
	var active []*Step
	for _, s := range u.steps {
		if s.Input != "" && !live[s.Input] {
			recs[s.ID], whys[s.ID] = skipped(), fmt.Sprintf("its input %q does not run", s.Input)
			continue
		}
		ok, why, err := r.shouldRun(s, env, inUnit)
		if err != nil {
			recs[s.ID] = r.conclude(ctx, attemptResult{err: &StepError{Step: s.ID, Err: err}}, time.Now(), 0)
			for _, o := range u.steps {
				if _, done := recs[o.ID]; !done {
					recs[o.ID] = cancelled(&errFailFast{step: s.ID})
				}
			}
			return recs, whys
		}
		if !ok {
			recs[s.ID], whys[s.ID] = skipped(), why
			continue
		}
		live[s.ID] = true
		active = append(active, s)
	}
	if len(active) == 0 {
		return recs, whys
	}
	src := active[0]
	started := time.Now()
	if it == nil {
		r.log.Info("stream started", "source", src.ID, "steps", len(active))
	}
	var gr *groupResult
	for attempts := 1; ; attempts++ {
		gr = r.groupAttempt(ctx, active, it)
		if !r.retry(ctx, src, src.Retry, attemptResult{err: gr.err, permanent: gr.permanent}, attempts) {
			r.settleGroup(ctx, active, gr, started, attempts, recs)
			return recs, whys
		}
	}
}

// groupResult is the outcome of one attempt of a stream group.
type groupResult struct {
	err       error  // the group's first failure
	failed    string // the member err belongs to ("" when the run was stopped)
	permanent bool
	members   map[string]*attemptResult
}

// settleGroup records every member's state after the last attempt in recs.
// The member that failed first is failed; sinks of a failed group (aborted)
// and members that failed because of it are cancelled, or failed when the
// member that failed may (continue_on_error) and they may not: that covers
// the step it is written on, not an upload whose commit did not happen.
func (r *run) settleGroup(ctx context.Context, active []*Step, gr *groupResult, started time.Time, attempts int, recs map[string]record) {
	mayFail := false
	for _, s := range active {
		if s.ID == gr.failed {
			mayFail = s.ContinueOnError
		}
	}
	for _, s := range active {
		res := *gr.members[s.ID]
		switch {
		case gr.err == nil:
			res.err = nil
		case ctx.Err() != nil || s.ID == gr.failed:
			res.err = gr.err
		case res.err == nil && s.Def.Kind != KindSink:
			// It did its part; the stream failed further down.
		default:
			status := StatusCancelled
			if mayFail && !s.ContinueOnError {
				status = StatusFailed
			}
			recs[s.ID] = record{status: status, err: &errFailFast{step: gr.failed}, outputs: res.outs,
				started: started, finished: time.Now(), attempts: attempts, gates: res.gates, bytes: res.bytes}
			continue
		}
		recs[s.ID] = r.conclude(ctx, res, started, attempts)
	}
}

// groupAttempt runs every active member once, each in its own goroutine,
// connected by pipes (once per part when the source declares parts); then
// checks the asserts and commits or aborts the sinks.
func (r *run) groupAttempt(ctx context.Context, active []*Step, it *item) *groupResult {
	gr := &groupResult{members: make(map[string]*attemptResult, len(active))}
	byID := make(map[string]*Step, len(active))
	for _, s := range active {
		gr.members[s.ID] = &attemptResult{}
		byID[s.ID] = s
	}
	// Bind every member first: a bad parameter fails before a byte flows.
	env := r.itemEnv(ctx, it)
	params := make(map[string]any, len(active))
	for _, s := range active {
		p, err := r.bind(s, env)
		if err != nil {
			gr.err, gr.failed, gr.permanent = &StepError{Step: s.ID, Err: err}, s.ID, true
			return gr
		}
		params[s.ID] = p
	}

	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var timeout time.Duration
	var timedStep string
	for _, s := range active {
		if s.Timeout > 0 && (timeout == 0 || s.Timeout < timeout) {
			timeout, timedStep = s.Timeout, s.ID
		}
	}
	if timeout > 0 {
		var stop context.CancelFunc
		gctx, stop = withStepTimeout(gctx, timeout)
		defer stop()
	}

	var pending map[string]Pending
	parts, err := r.declareParts(gctx, active[0], it, params[active[0].ID])
	switch {
	case err != nil:
		gr.err, gr.failed = &StepError{Step: active[0].ID, Err: err}, active[0].ID
		r.notRun(active, gr)
	case parts != nil:
		pending = r.runParts(gctx, cancel, active, it, params, parts, gr)
	default:
		pending = r.runStream(gctx, cancel, active, it, params, gr)
	}
	if gctx.Err() != nil && ctx.Err() == nil && isTimeout(context.Cause(gctx)) {
		gr.err, gr.failed = &StepError{Step: timedStep, Err: context.Cause(gctx)}, timedStep
	}
	if gr.err == nil {
		r.groupAsserts(ctx, it, active, gr)
	}
	r.commitOrAbort(gctx, active, byID, params, pending, gr)
	if gr.err != nil && gr.failed == "" && ctx.Err() == nil && isTimeout(gr.err) {
		gr.err, gr.failed = &StepError{Step: timedStep, Err: gr.err}, timedStep
	}
	return gr
}

// runStream runs every active member once, each in its own goroutine,
// connected by pipes, and returns the sinks' pending results.
func (r *run) runStream(gctx context.Context, cancel context.CancelCauseFunc, active []*Step, it *item, params map[string]any, gr *groupResult) map[string]Pending {
	net := newStreamNet(topology(active))
	pending := map[string]Pending{}
	var mu sync.Mutex // guards pending and members' results while members run
	var wg sync.WaitGroup
	for _, s := range active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			outs, p, err := r.runMember(gctx, s, it, params[s.ID], net)
			elapsed := time.Since(start)
			mu.Lock()
			gr.members[s.ID].outs, gr.members[s.ID].err = outs, err
			gr.members[s.ID].bytes = net.stats(s.ID, elapsed)
			if p != nil {
				pending[s.ID] = p
			}
			mu.Unlock()
			if err != nil {
				serr := &StepError{Step: s.ID, Err: err}
				if net.fail(serr) {
					gr.err, gr.failed = serr, s.ID // written once, read after wg.Wait
					cancel(serr)
				}
			}
		}()
	}
	label := active[0].ID
	if it != nil {
		label += "[" + it.label + "]"
	}
	stopWatch := r.watchStream(label, net.outs[active[0].ID])
	wg.Wait()
	stopWatch()
	return pending
}

// groupAsserts evaluates every member's asserts with all members' outputs.
func (r *run) groupAsserts(ctx context.Context, it *item, active []*Step, gr *groupResult) {
	outs := make(map[string]Outputs, len(active))
	for id, m := range gr.members {
		outs[id] = m.outs
	}
	env := r.envWith(ctx, it, outs)
	for _, s := range active {
		gates, err := r.checkAsserts(s, env)
		gr.members[s.ID].gates = gates
		if err != nil && gr.err == nil {
			gr.err, gr.failed, gr.permanent = err, s.ID, true
		}
	}
}

// commitOrAbort commits every sink when the group succeeded, in plan order,
// and aborts every sink not committed.
func (r *run) commitOrAbort(ctx context.Context, active []*Step, byID map[string]*Step, params map[string]any, pending map[string]Pending, gr *groupResult) {
	committed := map[string]bool{}
	for _, s := range active {
		p := pending[s.ID]
		if gr.err != nil || p == nil {
			continue
		}
		if p == NothingPending {
			// The sink's work was done when it returned: a stop arriving
			// now would report as undone what is done.
			continue
		}
		if ctx.Err() != nil {
			gr.err = context.Cause(ctx)
			break
		}
		var chain []Stage
		for id := s.Input; id != ""; id = byID[id].Input {
			chain = append([]Stage{{ID: id, Type: byID[id].Type, Params: params[id], Outputs: gr.members[id].outs}}, chain...)
		}
		outs, err := p.Commit(ctx, chain)
		if err != nil {
			gr.err, gr.failed = &StepError{Step: s.ID, Err: fmt.Errorf("committing: %w", err)}, s.ID
			break
		}
		committed[s.ID] = true
		merged := Outputs{}
		for k, v := range gr.members[s.ID].outs {
			merged[k] = v
		}
		for k, v := range outs {
			merged[k] = v
		}
		gr.members[s.ID].outs = merged
	}
	for _, s := range active {
		if p := pending[s.ID]; p != nil && !committed[s.ID] {
			if err := p.Abort(); err != nil {
				r.log.Warn("aborting sink failed: its temporary data may remain", "step", s.ID, "error", r.red.Redact(err.Error()))
			}
		}
	}
}

// runMember runs one member of a stream group. A producer's output is closed
// (end of stream) when it returns nil; on an error the caller closes every
// pipe with that error.
func (r *run) runMember(ctx context.Context, s *Step, it *item, params any, net *streamNet) (outs Outputs, pend Pending, err error) {
	sc := r.stepContext(ctx, s, it, nil)
	if out := net.outs[s.ID]; s.Def.Kind == KindSource && out != nil {
		sc.ExpectBytes, sc.Checking = out.expected.Store, out.checking.Store
	}
	err = r.protect(s, func() (err error) {
		switch s.Def.Kind {
		case KindSource:
			outs, err = params.(Source).Produce(ctx, sc, net.outs[s.ID])
		case KindTransform:
			outs, err = params.(Transform).Transform(ctx, sc, net.ins[s.ID], net.outs[s.ID])
		case KindSink:
			outs, pend, err = params.(Sink).Consume(ctx, sc, net.ins[s.ID])
		}
		return err
	})
	if err == nil && s.Def.Kind != KindSource {
		err = net.checkDrained(s.ID)
	}
	if err == nil && s.Def.Kind != KindSink {
		net.finishProducer(s.ID, nil)
	}
	if err == nil && s.Def.Kind == KindSink && pend == nil {
		pend = NothingPending
	}
	return outs, pend, err
}
