package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// declareParts asks a PartedSource whether its stream comes in parts this
// time; nil means one stream.
func (r *run) declareParts(ctx context.Context, src *Step, it *item, params any) (*Parts, error) {
	ps, ok := params.(PartedSource)
	if !ok {
		return nil, nil
	}
	var parts *Parts
	err := r.protect(src, func() (err error) {
		parts, err = ps.Parts(ctx, r.stepContext(ctx, src, it, nil))
		return err
	})
	if err != nil || parts == nil {
		return nil, err
	}
	if err := checkParts(parts); err != nil {
		if parts.Close != nil {
			err = errors.Join(err, parts.Close())
		}
		return nil, fmt.Errorf("step type %q declared its parts wrongly: %w: this is a bug in the step type", src.Type, err)
	}
	parts.Jobs = max(parts.Jobs, 1)
	return parts, nil
}

// checkParts checks what a source declared.
func checkParts(p *Parts) error {
	if len(p.List) == 0 || p.Produce == nil {
		return errors.New("no parts, or no Produce")
	}
	seen := map[string]bool{}
	for _, pt := range p.List {
		if pt.Name == "" || seen[pt.Name] {
			return fmt.Errorf("part name %q is empty or repeated", pt.Name)
		}
		seen[pt.Name] = true
	}
	return nil
}

// partRun is what the members of a group did for one part.
type partRun struct {
	params map[string]any
	outs   map[string]Outputs
	errs   map[string]error
	bytes  map[string]*ByteCounts
}

// partsFailure keeps the first failure of a group in parts and cancels the
// others with it.
type partsFailure struct {
	mu     sync.Mutex
	gr     *groupResult
	cancel context.CancelCauseFunc
}

func (f *partsFailure) fail(step string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gr.err == nil {
		serr := &StepError{Step: step, Err: err}
		f.gr.err, f.gr.failed = serr, step
		f.cancel(serr)
	}
}

func (f *partsFailure) failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gr.err != nil
}

// runParts runs the group once per part the source declared, phase by
// phase, at most ps.Jobs parts at once, each part with pipes of its own.
// The first failure anywhere cancels every part, and every sink's parts
// are undone; when all succeeded, each member's outputs are merged over
// the parts and each sink's Finish returns what is still to commit, which
// the caller commits (all parts together) after the asserts.
func (r *run) runParts(ctx context.Context, cancel context.CancelCauseFunc, active []*Step, it *item, params map[string]any, ps *Parts, gr *groupResult) map[string]Pending {
	src := active[0]
	f := &partsFailure{gr: gr, cancel: cancel}
	r.log.Info("stream in parts", "source", src.ID, "parts", len(ps.List), "at_once", min(ps.Jobs, len(ps.List)))
	consumers := map[string]PartConsumer{}
	for _, s := range active {
		if s.Def.Kind != KindSink {
			continue
		}
		sink, ok := params[s.ID].(PartedSink)
		if !ok {
			f.fail(s.ID, fmt.Errorf("source %q split its stream into %d parts, which step type %q cannot take: it stores one stream", src.ID, len(ps.List), s.Type))
			break
		}
		var c PartConsumer
		err := r.protect(s, func() (err error) {
			c, err = sink.ConsumeParts(ctx, r.stepContext(ctx, s, it, nil), ps.List)
			return err
		})
		if err != nil {
			f.fail(s.ID, err)
			break
		}
		consumers[s.ID] = c
	}
	runs := make([]*partRun, len(ps.List))
	if !f.failed() {
		r.runPhases(ctx, active, it, params, ps, consumers, runs, f)
	}
	if ps.Close != nil {
		// The parts are over: what the source held only served them.
		if err := r.protect(src, ps.Close); err != nil {
			r.log.Warn("releasing what the source held for its parts failed", "step", src.ID, "error", r.red.Redact(err.Error()))
		}
	}
	if gr.err == nil && ctx.Err() != nil {
		gr.err = context.Cause(ctx)
	}
	for _, s := range active {
		gr.members[s.ID].bytes = sumBytes(s.ID, runs)
	}
	if gr.err != nil {
		r.abortParts(active, consumers)
		r.settleParts(active, runs, gr)
		return nil
	}
	return r.finishParts(ctx, active, params, ps, consumers, runs, f)
}

// runPhases starts the parts in phase order, waiting for each phase to end
// before the next, with at most ps.Jobs running; it stops starting parts
// once one failed.
func (r *run) runPhases(ctx context.Context, active []*Step, it *item, params map[string]any, ps *Parts, consumers map[string]PartConsumer, runs []*partRun, f *partsFailure) {
	order := make([]int, len(ps.List))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return ps.List[a].Phase - ps.List[b].Phase })
	sem := make(chan struct{}, ps.Jobs)
	for start := 0; start < len(order) && ctx.Err() == nil; {
		end := start
		for end < len(order) && ps.List[order[end]].Phase == ps.List[order[start]].Phase {
			end++
		}
		var wg sync.WaitGroup
		for _, i := range order[start:end] {
			acquired := false
			select {
			case sem <- struct{}{}:
				acquired = true
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				if acquired {
					<-sem
				}
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				runs[i] = r.runPart(ctx, active, it, params, ps, consumers, i, f)
			}()
		}
		wg.Wait()
		start = end
	}
}

// runPart runs every member once for part i, connected by pipes of the
// part's own. Transforms get parameters of their own per part (the first
// part uses those bound for the group); the source and the sinks serve
// every part.
func (r *run) runPart(ctx context.Context, active []*Step, it *item, params map[string]any, ps *Parts, consumers map[string]PartConsumer, i int, f *partsFailure) *partRun {
	part := ps.List[i]
	pr := &partRun{params: map[string]any{}, outs: map[string]Outputs{}, errs: map[string]error{}, bytes: map[string]*ByteCounts{}}
	env := r.itemEnv(ctx, it)
	for _, s := range active {
		p := params[s.ID]
		if s.Def.Kind == KindTransform && i > 0 {
			var err error
			if p, err = r.bind(s, env); err != nil {
				f.fail(s.ID, err)
				return pr
			}
		}
		pr.params[s.ID] = p
	}
	producers, readers := topology(active)
	net := newStreamNet(producers, readers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			outs, err := r.runPartMember(ctx, s, it, pr.params[s.ID], ps, consumers[s.ID], part, net)
			mu.Lock()
			pr.outs[s.ID], pr.errs[s.ID] = outs, err
			pr.bytes[s.ID] = net.stats(s.ID, time.Since(start))
			mu.Unlock()
			if err != nil {
				err = fmt.Errorf("part %s: %w", part.Name, err)
				if net.fail(&StepError{Step: s.ID, Err: err}) {
					f.fail(s.ID, err)
				}
			}
		}()
	}
	label := active[0].ID
	if it != nil {
		label += "[" + it.label + "]"
	}
	stopWatch := r.watchStream(label+" part "+part.Name, net.outs[active[0].ID])
	wg.Wait()
	stopWatch()
	if !f.failed() {
		r.log.Info("part finished", "source", active[0].ID, "part", part.Name, "bytes", net.outs[active[0].ID].n.Load())
	}
	return pr
}

// runPartMember runs member s for one part, as runMember does for a whole
// stream.
func (r *run) runPartMember(ctx context.Context, s *Step, it *item, params any, ps *Parts, c PartConsumer, part Part, net *streamNet) (outs Outputs, err error) {
	sc := r.stepContext(ctx, s, it, nil)
	sc.Part, sc.Logger = &part, sc.Logger.With("part", part.Name)
	if out := net.outs[s.ID]; s.Def.Kind == KindSource && out != nil {
		sc.ExpectBytes, sc.Checking = out.expected.Store, out.checking.Store
	}
	err = r.protect(s, func() (err error) {
		switch s.Def.Kind {
		case KindSource:
			outs, err = ps.Produce(ctx, sc, part, net.outs[s.ID])
		case KindTransform:
			outs, err = params.(Transform).Transform(ctx, sc, net.ins[s.ID], net.outs[s.ID])
		case KindSink:
			outs, err = c.Consume(ctx, sc, part, net.ins[s.ID])
		}
		return err
	})
	if err == nil && s.Def.Kind != KindSource {
		err = net.checkDrained(s.ID)
	}
	if err == nil && s.Def.Kind != KindSink {
		net.finishProducer(s.ID, nil)
	}
	return outs, err
}

// finishParts merges every member's outputs over the parts and asks each
// sink for what is left to commit. A sink whose Finish fails fails the
// group, and every sink's parts are undone.
func (r *run) finishParts(ctx context.Context, active []*Step, params map[string]any, ps *Parts, consumers map[string]PartConsumer, runs []*partRun, f *partsFailure) map[string]Pending {
	byID := make(map[string]*Step, len(active))
	for _, s := range active {
		byID[s.ID] = s
	}
	pending := map[string]Pending{}
	finished := map[string]PartConsumer{}
	for _, s := range active {
		per := make([]Outputs, len(runs))
		for i, pr := range runs {
			per[i] = pr.outs[s.ID]
		}
		var outs Outputs
		switch {
		case s.Def.Kind == KindSink:
			results := make([]PartResult, len(runs))
			for i, pr := range runs {
				results[i] = PartResult{Part: ps.List[i], Outputs: pr.outs[s.ID], Upstream: partChain(byID, s, pr)}
			}
			var p Pending
			err := r.protect(s, func() (err error) {
				outs, p, err = consumers[s.ID].Finish(ctx, results)
				return err
			})
			if err != nil {
				f.fail(s.ID, fmt.Errorf("finishing its parts: %w", err))
				unfinished := map[string]PartConsumer{}
				for id, c := range consumers {
					if finished[id] == nil {
						unfinished[id] = c
					}
				}
				r.abortParts(active, unfinished)
				for id, q := range pending {
					if err := q.Abort(); err != nil {
						r.log.Warn("aborting sink failed: its temporary data may remain", "step", id, "error", r.red.Redact(err.Error()))
					}
				}
				r.settleParts(active, runs, f.gr)
				return nil
			}
			finished[s.ID] = consumers[s.ID]
			if p == nil {
				p = NothingPending
			}
			pending[s.ID] = p
		case s.Def.Kind == KindSource && ps.Finish != nil:
			outs = ps.Finish(per)
		default:
			if m, ok := params[s.ID].(PartsMerger); ok {
				outs = m.MergeParts(per)
			} else {
				outs = MergePartOutputs(per)
			}
		}
		f.gr.members[s.ID].outs = outs
	}
	return pending
}

// partChain is the chain that fed sink s in one part, source first.
func partChain(byID map[string]*Step, s *Step, pr *partRun) []Stage {
	var chain []Stage
	for id := s.Input; id != ""; id = byID[id].Input {
		chain = append([]Stage{{ID: id, Type: byID[id].Type, Params: pr.params[id], Outputs: pr.outs[id]}}, chain...)
	}
	return chain
}

// abortParts undoes every sink's parts.
func (r *run) abortParts(active []*Step, consumers map[string]PartConsumer) {
	for _, s := range active {
		c := consumers[s.ID]
		if c == nil {
			continue
		}
		if err := r.protect(s, c.Abort); err != nil {
			r.log.Warn("aborting sink failed: its temporary data may remain", "step", s.ID, "error", r.red.Redact(err.Error()))
		}
	}
}

// settleParts gives each member of a failed group in parts its error: the
// member that failed first keeps the group's; a source or transform that
// did every part did its share; every other member was cancelled by the
// failure.
func (r *run) settleParts(active []*Step, runs []*partRun, gr *groupResult) {
	for _, s := range active {
		if s.ID == gr.failed {
			continue
		}
		done := s.Def.Kind != KindSink
		for _, pr := range runs {
			err, ran := error(nil), false
			if pr != nil {
				err, ran = pr.errs[s.ID]
			}
			done = done && ran && err == nil
		}
		if !done {
			gr.members[s.ID].err = &errFailFast{step: gr.failed}
		}
	}
}

// notRun marks every member but the failed one as cancelled by its
// failure, for a group that failed before anything streamed.
func (r *run) notRun(active []*Step, gr *groupResult) {
	for _, s := range active {
		if s.ID != gr.failed {
			gr.members[s.ID].err = &errFailFast{step: gr.failed}
		}
	}
}

// sumBytes adds up member id's stream counts over the parts that ran.
func sumBytes(id string, runs []*partRun) *ByteCounts {
	var total *ByteCounts
	for _, pr := range runs {
		if pr == nil || pr.bytes[id] == nil {
			continue
		}
		if total == nil {
			total = &ByteCounts{}
		}
		b := pr.bytes[id]
		total.In += b.In
		total.Out += b.Out
		total.InWaitSeconds += b.InWaitSeconds
		total.OutWaitSeconds += b.OutWaitSeconds
		total.BusySeconds += b.BusySeconds
	}
	return total
}

// topology lists a group's producers and, per producer, the members that
// read its stream.
func topology(active []*Step) ([]string, map[string][]string) {
	var producers []string
	consumers := map[string][]string{}
	for _, s := range active {
		if s.Def.Kind != KindSink {
			producers = append(producers, s.ID)
		}
		if s.Input != "" {
			consumers[s.Input] = append(consumers[s.Input], s.ID)
		}
	}
	return producers, consumers
}
