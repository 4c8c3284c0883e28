package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// unit is what the scheduler starts: a whole stream group, or one action.
type unit struct {
	steps []*Step  // a group's members source first, parents before children
	group bool     // a stream group (else a single action)
	deps  []string // steps outside the unit that must finish first
	// independent units commit (a stream's sinks, a called plan's run):
	// once started, another unit's failure does not cancel them.
	independent bool
}

// buildUnits splits the plan into units and checks that they can be
// ordered: a group and an action must not wait for each other.
func buildUnits(p *Plan) ([]*unit, error) {
	byID := make(map[string]*Step, len(p.Steps))
	children := map[string][]*Step{}
	for _, s := range p.Steps {
		byID[s.ID] = s
		if s.Input != "" {
			children[s.Input] = append(children[s.Input], s)
		}
	}
	var units []*unit
	unitOf := map[string]*unit{}
	for _, s := range p.Steps {
		if s.Def != nil && s.Def.Kind == KindAction {
			u := &unit{steps: []*Step{s}}
			units = append(units, u)
			unitOf[s.ID] = u
			continue
		}
		if s.Input != "" {
			continue // reached from its group's source below
		}
		u := &unit{group: true}
		queue := []*Step{s}
		for len(queue) > 0 {
			m := queue[0]
			queue = queue[1:]
			u.steps = append(u.steps, m)
			unitOf[m.ID] = u
			queue = append(queue, children[m.ID]...)
		}
		units = append(units, u)
	}
	for _, s := range p.Steps {
		if unitOf[s.ID] == nil {
			return nil, fmt.Errorf("step %q: its input chain does not start at a source step", s.ID)
		}
	}
	for _, u := range units {
		u.independent = u.group || u.steps[0].Def != nil && u.steps[0].Def.Calls != nil
		seen := map[string]bool{}
		for _, s := range u.steps {
			for _, d := range s.Deps {
				if unitOf[d] != u && !seen[d] {
					seen[d] = true
					u.deps = append(u.deps, d)
				}
			}
		}
	}
	if err := checkOrder(units, unitOf); err != nil {
		return nil, err
	}
	return units, nil
}

// checkOrder fails when units wait for each other, which a step graph
// without cycles can still do through a stream group.
func checkOrder(units []*unit, unitOf map[string]*unit) error {
	done := map[*unit]bool{}
	for progress := true; progress; {
		progress = false
		for _, u := range units {
			if done[u] {
				continue
			}
			ready := true
			for _, d := range u.deps {
				ready = ready && done[unitOf[d]]
			}
			if ready {
				done[u], progress = true, true
			}
		}
	}
	for _, u := range units {
		if !done[u] {
			return fmt.Errorf("step %q: its stream group and the steps it depends on wait for each other: move the dependency out of the stream or drop it", u.steps[0].ID)
		}
	}
	return nil
}

// schedule starts units as their dependencies finish, at most
// Settings.Concurrency at a time, until all ran or the run was stopped.
// Units never started end as cancelled.
func (r *run) schedule(ctx context.Context, units []*unit) {
	limit := r.plan.Settings.Concurrency
	if limit <= 0 {
		limit = 4
	}
	pending := append([]*unit(nil), units...)
	finished := make(chan struct{})
	running := 0
	for {
		for i := 0; ctx.Err() == nil && i < len(pending) && running < limit; {
			u := pending[i]
			if !r.depsFinished(u) {
				i++
				continue
			}
			pending = append(pending[:i], pending[i+1:]...)
			running++
			go func() {
				r.runUnit(ctx, u)
				finished <- struct{}{}
			}()
		}
		if running == 0 {
			break
		}
		<-finished
		running--
	}
	reason := r.stopCause(ctx)
	for _, u := range pending {
		for _, s := range u.steps {
			r.update(s.ID, func(sr *stepRun) { sr.status, sr.err = StatusCancelled, reason })
		}
	}
}

func (r *run) depsFinished(u *unit) bool {
	for _, d := range u.deps {
		if r.status(d) == StatusPending {
			return false
		}
	}
	return true
}

// runUnit runs u. The rule for units running side by side: a failed step
// stops the run from starting anything new and cancels running actions,
// which commit nothing; but a unit that commits (a stream group, a step
// that runs a plan) runs to its end once started, and its sinks commit or
// roll back on its own outcome alone. So whether an independent stream's
// backup is kept never depends on when another stream failed. An interrupt
// or the plan's timeout stops everything.
func (r *run) runUnit(ctx context.Context, u *unit) {
	if u.independent {
		ctx = r.stop
	}
	switch {
	case u.steps[0].ForEach != nil:
		r.runEach(ctx, u)
	case u.group:
		r.runGroup(ctx, u)
	default:
		r.runAction(ctx, u.steps[0])
	}
}

// shouldRun decides whether s runs. Its own when decides when it has one;
// otherwise s is skipped when a dependency outside its unit (inUnit) did not
// succeed. why says why it is skipped.
func (r *run) shouldRun(s *Step, env Env, inUnit map[string]bool) (ok bool, why string, err error) {
	if s.When != nil {
		ok, err := s.When.EvalBool(env)
		if err != nil {
			return false, "", fmt.Errorf("evaluating when %q: %w", s.When.String(), err)
		}
		if !ok {
			return false, "when is false: " + s.When.Explain(env, r.red), nil
		}
		return true, "", nil
	}
	for _, d := range s.Deps {
		if st := r.status(d); !inUnit[d] && st != StatusSucceeded {
			return false, fmt.Sprintf("dependency %q %s", d, st), nil
		}
	}
	return true, "", nil
}

// fail records err as the run's error unless one is recorded, and stops the
// run: running steps are cancelled, no other unit starts.
func (r *run) fail(step string, err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
	r.cancel(&errFailFast{step: step})
}

// backoff waits before attempt n+1 (n >= 1): base doubled n-1 times, with
// jitter between half and one and a half of that. It returns false when
// ctx ended first.
func backoff(ctx context.Context, base time.Duration, n int) bool {
	if base <= 0 {
		return ctx.Err() == nil
	}
	d := base << min(n-1, 20)
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// withStepTimeout returns ctx limited to d (none when d is 0), with a cause
// that names the timeout.
func withStepTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, &timeoutError{what: "step", d: d})
}
