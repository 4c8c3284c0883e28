package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// runAction runs one action step without for_each.
func (r *run) runAction(ctx context.Context, s *Step) {
	rec, why := r.actionRecord(ctx, s, nil)
	if rec.status == StatusSkipped {
		r.skip(s, why)
		return
	}
	r.finish(s, rec, nil)
}

// actionRecord runs action s, for item it (nil without for_each), with its
// when, retry, timeout and asserts. why says why it was skipped.
func (r *run) actionRecord(ctx context.Context, s *Step, it *item) (rec record, why string) {
	ok, why, err := r.shouldRun(s, r.itemEnv(ctx, it), nil)
	if err != nil {
		return r.conclude(ctx, attemptResult{err: &StepError{Step: s.ID, Err: err}}, time.Now(), 0), ""
	}
	if !ok {
		return skipped(), why
	}
	started := time.Now()
	if it == nil {
		r.log.Info("step started", "step", s.ID, "type", s.Type)
	}
	var res attemptResult
	attempts := 0
	cs := &callState{}
	for {
		attempts++
		res = r.actionAttempt(ctx, s, it, cs)
		if !r.retry(ctx, s, s.Retry, res, attempts) {
			break
		}
	}
	return r.conclude(ctx, res, started, attempts), ""
}

// actionAttempt runs one attempt of action s; cs keeps the plans it called
// in earlier attempts.
func (r *run) actionAttempt(ctx context.Context, s *Step, it *item, cs *callState) attemptResult {
	params, err := r.bind(s, r.itemEnv(ctx, it))
	if err != nil {
		return attemptResult{err: &StepError{Step: s.ID, Err: err}, permanent: true}
	}
	actx, cancel := withStepTimeout(ctx, s.Timeout)
	defer cancel()
	var outs Outputs
	before := cs.count()
	err = r.protect(s, func() (err error) {
		outs, err = params.(Action).Run(actx, r.stepContext(actx, s, it, cs))
		return err
	})
	if err != nil {
		if cause := context.Cause(actx); ctx.Err() == nil && isTimeout(cause) {
			err = cause
		}
		// Outputs returned with the error (an audit's findings) still go
		// into the report.
		return attemptResult{outs: outs, err: &StepError{Step: s.ID, Err: err}, run: cs.lastSince(before)}
	}
	gates, gerr := r.checkAsserts(s, r.envWith(ctx, it, map[string]Outputs{s.ID: outs}))
	return attemptResult{outs: outs, err: gerr, permanent: gerr != nil, gates: gates, run: cs.lastSince(before)}
}

// retry reports whether to run another attempt after res, waiting the
// backoff first.
func (r *run) retry(ctx context.Context, s *Step, rt Retry, res attemptResult, attempts int) bool {
	if res.err == nil || res.permanent || ctx.Err() != nil || attempts >= rt.Attempts {
		return false
	}
	r.log.Warn("step failed, retrying", "step", s.ID, "attempt", attempts, "of", rt.Attempts, "error", r.red.Redact(res.err.Error()))
	return backoff(ctx, rt.Backoff, attempts)
}

// bind resolves s's parameters and checks that they play s's role.
func (r *run) bind(s *Step, env Env) (any, error) {
	params, err := s.Bind(env)
	if err != nil {
		return nil, err
	}
	var ok bool
	switch s.Def.Kind {
	case KindSource:
		_, ok = params.(Source)
	case KindTransform:
		_, ok = params.(Transform)
	case KindSink:
		_, ok = params.(Sink)
	case KindAction:
		_, ok = params.(Action)
	}
	if !ok {
		return nil, fmt.Errorf("step type %q is a %s but its parameters (%T) do not implement it: this is a bug in the step type", s.Type, s.Def.Kind, params)
	}
	return params, nil
}

// checkAsserts evaluates every assertion of s in env. It returns the gate
// results and the first failure: a *GateError, or a *StepError when an
// assertion could not be evaluated.
func (r *run) checkAsserts(s *Step, env Env) ([]GateResult, error) {
	var (
		gates []GateResult
		first error
	)
	for _, a := range s.Asserts {
		g := GateResult{Expr: a.That.String(), Message: a.Message, File: a.Pos.File, Line: a.Pos.Line}
		ok, err := a.That.EvalBool(env)
		g.Passed = err == nil && ok
		switch {
		case err != nil:
			g.Operands = r.red.Redact(err.Error())
			if first == nil {
				first = &StepError{Step: s.ID, Err: fmt.Errorf("evaluating assertion %q: %w", a.That.String(), err)}
			}
		default:
			// Passing gates keep their operand values too: a report is
			// evidence, and "passed" alone does not say by how much.
			g.Operands = a.That.Explain(env, r.red)
			if !ok && first == nil {
				first = &GateError{Step: s.ID, Expr: g.Expr, Message: r.red.Redact(a.Message), Operands: g.Operands, Pos: a.Pos}
			}
		}
		gates = append(gates, g)
	}
	return gates, first
}

// envWith is itemEnv() with the given steps' outputs, as succeeded steps.
func (r *run) envWith(ctx context.Context, it *item, outs map[string]Outputs) Env {
	env := r.itemEnv(ctx, it)
	steps := env["steps"].(map[string]any)
	for id, o := range outs {
		m := make(map[string]any, len(o)+1)
		for k, v := range o {
			m[k] = v
		}
		m["status"] = string(StatusSucceeded)
		steps[id] = m
	}
	return env
}

// protect runs f and turns a panic into an error, so that a faulty step
// fails its own run instead of the process. The stack goes to the log.
func (r *run) protect(s *Step, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			r.log.Error("step panicked", "step", s.ID, "stack", string(debug.Stack()))
		}
	}()
	return f()
}

func isTimeout(err error) bool {
	var te *timeoutError
	return errors.As(err, &te)
}
