package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// RunOptions are the inputs of one run besides the plan.
type RunOptions struct {
	// Params are the values of the plan's params, already typed. Missing
	// params take their default; a missing required param fails the run.
	Params map[string]any
	// Secrets are values to redact from errors, outputs, the report and the
	// steps' view (StepContext.Secrets). Values of secret params, the
	// passwords of URLs in params and the secrets of the environment
	// (EnvSecrets) are added.
	Secrets []string
	// StateDir holds the run folders; default ".sluice".
	StateDir string
	// RunID names the run; default NewRunID(now).
	RunID string
	// Logger receives the run's logs; nil discards them.
	Logger hclog.Logger
	// Progress receives the state of every running stream about every
	// second, and once when it ends; nil: none. Calls never overlap, nested
	// plans' included. The CLI draws live lines on a terminal and logs
	// them otherwise.
	Progress func(StreamProgress)
	// Environ is the environment expressions see as env; nil: os.Environ().
	Environ []string
	// Target names the inventory target this run is for (sluice run
	// --inventory); empty for a run without an inventory. Expressions see it
	// as run.target, and the report records it with Labels.
	Target string
	// Labels are the target's labels from the inventory; nil without one.
	Labels map[string]string
	// Fleet is the id of the fleet run (the combined report's folder) this
	// run is part of; empty for a run without an inventory.
	Fleet string
}

// stepRun is the state of one step during a run.
type stepRun struct {
	step *Step
	record
	items []*itemRun // a for_each step's items, in order
}

// run is one execution of a plan.
type run struct {
	plan     *Plan
	opts     RunOptions
	id       string
	dir      string
	started  time.Time
	nest     *nesting // nil for a plan run on its own
	log      hclog.Logger
	red      *Redactor
	secrets  []string
	params   map[string]any
	environ  map[string]any
	caller   context.Context // the caller's context: its end is an interrupt
	stop     context.Context // caller's context with the plan's timeout: its end stops every step
	cancel   context.CancelCauseFunc
	progress *sync.Mutex // serialises calls of opts.Progress

	mu       sync.Mutex // guards steps, firstErr and atEnd
	steps    map[string]*stepRun
	firstErr error
	atEnd    []func() error       // StepContext.AtEnd registrations, run last first
	keys     map[string]KeyConfig // the plan's keys: with ${{ }} resolved
	outputs  map[string]any       // the plan's outputs:, evaluated when it ended
}

// nesting is what a plan run by a step of another plan takes from its
// caller.
type nesting struct {
	dir      string      // its folder, inside the caller's
	started  time.Time   // the whole run's start: run.started and run.date
	progress *sync.Mutex // the caller's
}

// Run executes p and returns its report, which is also written to
// <StateDir>/runs/<id>/report.json whenever the run folder could be created.
// The report is returned even when the run fails; the error is the first
// failure (*StepError, *GateError), ErrInterrupted when ctx was cancelled,
// or an error wrapping ErrPlanTimeout. Its message is redacted.
func Run(ctx context.Context, p *Plan, opts RunOptions) (*Report, error) {
	_, rep, err := execRun(ctx, p, opts, nil)
	return rep, err
}

// execRun is Run, for a plan on its own or called by a step (nest).
func execRun(ctx context.Context, p *Plan, opts RunOptions, nest *nesting) (*run, *Report, error) {
	r := newRun(ctx, p, opts, nest)
	err := r.setup()
	if err == nil {
		err = r.execute()
		r.evalOutputs()
	}
	r.runAtEnd()
	rep := r.report(err)
	if r.dir != "" {
		if werr := rep.WriteFile(filepath.Join(r.dir, ReportFile)); werr != nil && err == nil {
			err = werr
			rep.Status, rep.Error = StatusFailed, r.red.Redact(werr.Error())
		}
	}
	return r, rep, redactError(err, r.red)
}

func newRun(ctx context.Context, p *Plan, opts RunOptions, nest *nesting) *run {
	r := &run{plan: p, opts: opts, caller: ctx, started: time.Now(), steps: map[string]*stepRun{}, nest: nest, progress: &sync.Mutex{}}
	if nest != nil {
		r.progress = nest.progress
	}
	r.log = opts.Logger
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	r.id = opts.RunID
	if r.id == "" {
		r.id = NewRunID(r.started)
	}
	r.secrets = append([]string(nil), opts.Secrets...)
	r.params = map[string]any{}
	for k, v := range opts.Params {
		r.params[k] = v
	}
	for _, ps := range p.Params {
		if _, ok := r.params[ps.Name]; !ok && ps.Default != nil {
			r.params[ps.Name] = ps.Default
		}
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	envSecrets, tooShort := EnvSecrets(environ)
	for _, name := range tooShort {
		r.log.Warn(fmt.Sprintf("environment variable %s holds a secret shorter than %d characters: it is not masked in output; use a longer secret", name, MinSecretLen))
	}
	r.secrets = append(r.secrets, SecretValues(p, r.params)...)
	r.secrets = append(r.secrets, ValueSecrets(r.params)...)
	r.secrets = append(r.secrets, envSecrets...)
	r.red = NewRedactor(r.secrets...)
	if nest != nil {
		r.log = &redactLogger{Logger: r.log, red: r.red}
	}
	r.environ = make(map[string]any, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			r.environ[k] = v
		}
	}
	for _, s := range p.Steps {
		r.steps[s.ID] = &stepRun{step: s, record: record{status: StatusPending}}
	}
	return r
}

// setup checks the params and creates the run folder.
func (r *run) setup() error {
	var missing []string
	for _, ps := range r.plan.Params {
		if _, ok := r.params[ps.Name]; !ok && ps.Required {
			missing = append(missing, fmt.Sprintf("%q", ps.Name))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required param %s has no value: pass it with --param NAME=VALUE", strings.Join(missing, ", "))
	}
	if err := checkSecretParams(r.plan, r.params); err != nil {
		return err
	}
	if err := r.resolveKeys(); err != nil {
		return err
	}
	if r.nest != nil {
		if err := os.MkdirAll(r.nest.dir, 0o700); err != nil {
			return fmt.Errorf("creating the called plan's folder: %w", err)
		}
		r.dir = r.nest.dir
		return nil
	}
	dir, err := createRunDir(r.opts.StateDir, r.id)
	if err != nil {
		return err
	}
	r.dir = dir
	return nil
}

// resolveKeys interpolates the plan's keys: entries (a path from a param)
// once, for every step to see the same stores.
func (r *run) resolveKeys() error {
	env := r.env(r.caller)
	r.keys = make(map[string]KeyConfig, len(r.plan.Keys))
	for name, kc := range r.plan.Keys {
		if r.plan.literal {
			r.keys[name] = kc
			continue
		}
		resolved := KeyConfig{Name: kc.Name, Options: make(map[string]string, len(kc.Options))}
		fields := []struct {
			name string
			src  string
			dst  *string
		}{{"store", kc.Store, &resolved.Store}, {"path", kc.Path, &resolved.Path}}
		for _, f := range fields {
			v, err := Interpolate(f.src, env)
			if err != nil {
				return fmt.Errorf("keys.%s.%s: %w", name, f.name, err)
			}
			*f.dst = fmt.Sprint(v)
		}
		for k, o := range kc.Options {
			v, err := Interpolate(o, env)
			if err != nil {
				return fmt.Errorf("keys.%s.%s: %w", name, k, err)
			}
			resolved.Options[k] = fmt.Sprint(v)
		}
		r.keys[name] = resolved
	}
	return nil
}

// execute schedules every step and returns the run's error.
func (r *run) execute() error {
	units, err := buildUnits(r.plan)
	if err != nil {
		return err
	}
	ctx := r.caller
	if d := r.plan.Settings.Timeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, &timeoutError{what: "plan", d: d})
		defer cancel()
	}
	r.stop = ctx
	ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)
	r.log.Info("run started", "run", r.id, "plan", r.plan.Name, "folder", r.dir)
	r.schedule(ctx, units)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr != nil {
		return r.firstErr
	}
	for _, s := range r.steps {
		if (s.status == StatusCancelled || s.status == StatusPending) && ctx.Err() != nil {
			// Some work did not happen and no step failed: the run was
			// stopped from outside.
			return r.stopCause(ctx)
		}
	}
	return nil
}

// stopCause says why ctx ended: ErrInterrupted when the caller cancelled,
// else the context's cause (the plan's timeout, or a failed step).
func (r *run) stopCause(ctx context.Context) error {
	if r.caller.Err() != nil {
		return ErrInterrupted
	}
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return ctx.Err()
}

// env returns a snapshot of the expression environment, whose evaluations
// stop when ctx ends.
func (r *run) env(ctx context.Context) Env {
	r.mu.Lock()
	defer r.mu.Unlock()
	steps := make(map[string]any, len(r.steps))
	for id, s := range r.steps {
		m := make(map[string]any, len(s.outputs)+1)
		for k, v := range s.outputs {
			m[k] = v
		}
		m["status"] = string(s.status)
		steps[id] = m
	}
	started := r.started
	if r.nest != nil {
		started = r.nest.started
	}
	return Env{
		"params": r.params,
		"env":    r.environ,
		"steps":  steps,
		"run":    map[string]any{"id": r.id, "started": started, "date": started.UTC().Format("2006-01-02"), "target": r.opts.Target},
		"plan":   map[string]any{"name": r.plan.Name, "file": r.plan.File},
		ctxName:  ctx,
	}
}

// itemEnv is env() with each set for item it (none when it is nil).
func (r *run) itemEnv(ctx context.Context, it *item) Env {
	env := r.env(ctx)
	if it != nil {
		env["each"] = it.eachValue()
	}
	return env
}

// stepContext returns what step s sees of the run, for item it (nil
// without for_each). cs receives the runs of the plan s calls, if any.
func (r *run) stepContext(ctx context.Context, s *Step, it *item, cs *callState) *StepContext {
	sc := &StepContext{
		ID: s.ID, Type: s.Type, RunID: r.id, PlanName: r.plan.Name, PlanFile: r.plan.File,
		RunDir: r.dir, Logger: r.log.With("step", s.ID), Keys: r.keys,
		Secrets: append([]string(nil), r.secrets...),
		AtEnd:   r.registerAtEnd,
		Expand:  func(s string) (string, error) { return r.expand(ctx, it, s) },
	}
	if it != nil {
		sc.Item, sc.RunDir, sc.Logger = it.key, it.dir, sc.Logger.With("item", it.label)
	}
	if s.Calls != nil && cs != nil {
		sc.RunPlan = func(ctx context.Context, params map[string]any) (*CallResult, error) {
			return r.callPlan(ctx, s, it, params, cs)
		}
	}
	return sc
}

// expand is StepContext.Expand. The snapshot holds every step the caller
// depends on, finished: its expressions' steps.X made it a dependency.
func (r *run) expand(ctx context.Context, it *item, s string) (string, error) {
	v, err := Interpolate(s, r.itemEnv(ctx, it))
	if err != nil {
		return "", err
	}
	if str, ok := v.(string); ok {
		return str, nil
	}
	return formatValue(v, false), nil
}

func (r *run) registerAtEnd(fn func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.atEnd = append(r.atEnd, fn)
}

// runAtEnd runs the steps' end-of-run work, last registered first. Its
// failures are logged: the run's outcome is already decided.
func (r *run) runAtEnd() {
	r.mu.Lock()
	fns := r.atEnd
	r.atEnd = nil
	r.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		if err := fns[i](); err != nil {
			r.log.Warn("end-of-run cleanup failed", "error", r.red.Redact(err.Error()))
		}
	}
}

// status returns the current status of step id.
func (r *run) status(id string) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.steps[id]; s != nil {
		return s.status
	}
	return StatusPending
}

// update changes a step's state under the lock.
func (r *run) update(id string, f func(s *stepRun)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.steps[id])
}
