// Package fleet runs one plan over many targets on one machine: each
// target is an ordinary run (its own run id, folder, logs and report), at
// most Parallel at once, and one combined report records every target's
// outcome. A target is the unit of distribution: its streams stay inside
// its run, so nothing crosses between targets, and one target's failure
// never stops, cancels or undoes another's.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sluice-dev/sluice/runner"
)

// DefaultParallel is how many targets run at once unless told otherwise.
// A backup target keeps about one core busy on the sluice host (zstd at
// level 1 is most of its CPU; the dump itself runs on the database
// server), so two suit the 2-core hosts sluice is sized for; raise it where
// there are cores and the targets' servers and the storage can take it.
const DefaultParallel = 2

// Job is one target to run: the plan's params resolved for it.
type Job struct {
	Name    string
	Labels  map[string]string
	Params  map[string]any
	Secrets []string // values to redact besides those Run finds itself
	// Err, when set, says why the target's params could not be resolved:
	// the target is recorded as not run with this error, and the others
	// run.
	Err error
}

// Options are the inputs of a fleet run besides the plan and the jobs.
type Options struct {
	ID        string // the fleet's id and folder name; default runner.NewRunID(now)
	Parallel  int    // at most this many targets at once; default DefaultParallel
	StateDir  string // default runner.DefaultStateDir
	Inventory string // the inventory file, recorded in the report
	// Retry is how often a target's run is attempted when it fails (not
	// for a failed gate or an interrupt); default the plan's
	// settings.retry.
	Retry *runner.Retry
	// Logger receives every target's logs, named after the target.
	Logger hclog.Logger
	// Progress receives the progress of every target's streams (see
	// runner.RunOptions.Progress; StreamProgress.Target names the target),
	// one call at a time; nil: none.
	Progress func(runner.StreamProgress)
	// Environ is the environment the runs' expressions see; nil: os.Environ().
	Environ []string
	// Done, when set, is called as each target ends (from the target's
	// goroutine, one call at a time).
	Done func(Target)
}

// Error is the failure of a fleet run: the targets that did not succeed.
// Unwrap returns the worst target's error, so errors.Is and errors.As see
// its kind (runner.ErrInterrupted, *runner.GateError, ...).
type Error struct {
	Failed []string // target names, in inventory order
	Total  int
	Worst  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d of %d targets did not succeed: %s (see the fleet report)", len(e.Failed), e.Total, strings.Join(e.Failed, ", "))
}

// Unwrap returns the worst target's error.
func (e *Error) Unwrap() error { return e.Worst }

// Run runs p once per job and writes the combined report to
// <StateDir>/runs/<ID>/fleet.json. It returns the report and, when a target
// did not succeed, an *Error.
func Run(ctx context.Context, p *runner.Plan, jobs []Job, opts Options) (*Report, error) {
	if opts.ID == "" {
		opts.ID = runner.NewRunID(time.Now())
	}
	if opts.Parallel < 1 {
		opts.Parallel = DefaultParallel
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	retry := p.Settings.Retry
	if opts.Retry != nil {
		retry = *opts.Retry
	}
	dir := Dir(opts.StateDir, opts.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating fleet folder: %w", err)
	}
	rep := &Report{
		Version: ReportVersion, FleetID: opts.ID, Plan: p.Name, PlanFile: p.File, Inventory: opts.Inventory,
		Parallel: opts.Parallel, Started: time.Now().UTC(), Targets: make([]Target, len(jobs)),
	}
	errs := make([]error, len(jobs))
	f := &fleet{plan: p, opts: opts, retry: retry}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	var doneMu sync.Mutex
	for i, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			rep.Targets[i], errs[i] = notRun(job, runner.ErrInterrupted, "the fleet was interrupted before this target started")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rep.Targets[i], errs[i] = f.target(ctx, job)
			if opts.Done != nil {
				doneMu.Lock()
				opts.Done(rep.Targets[i])
				doneMu.Unlock()
			}
		}()
	}
	wg.Wait()
	finished := time.Now().UTC()
	rep.Finished, rep.DurationSeconds = finished, finished.Sub(rep.Started).Seconds()
	ferr := fleetError(rep, errs)
	rep.Status = runner.StatusSucceeded
	if ferr != nil {
		rep.Status = runner.StatusFailed
		if errors.Is(ferr, runner.ErrInterrupted) {
			rep.Status = runner.StatusInterrupted
		}
	}
	if err := runner.WriteJSONFile(filepath.Join(dir, ReportFile), rep); err != nil && ferr == nil {
		return rep, err
	}
	return rep, ferr
}

// fleetError is nil when every target succeeded, else an *Error whose
// Worst is the error of the first target with the worst outcome.
func fleetError(rep *Report, errs []error) error {
	e := &Error{Total: len(rep.Targets)}
	worst := OutcomeSucceeded
	for i, t := range rep.Targets {
		if t.Outcome == OutcomeSucceeded {
			continue
		}
		e.Failed = append(e.Failed, t.Name)
		if Worse(t.Outcome, worst) || e.Worst == nil {
			worst, e.Worst = t.Outcome, errs[i]
		}
	}
	if len(e.Failed) == 0 {
		return nil
	}
	return e
}

// fleet is what every target's run shares.
type fleet struct {
	plan  *runner.Plan
	opts  Options
	retry runner.Retry
	out   sync.Mutex // serialises calls of opts.Progress
}

// target runs one job, with its retries, and returns its record and error.
func (f *fleet) target(ctx context.Context, job Job) (Target, error) {
	if job.Err != nil {
		return notRun(job, job.Err, job.Err.Error())
	}
	log := f.opts.Logger.Named(job.Name).With("target", job.Name)
	attempts := max(f.retry.Attempts, 1)
	var (
		rep *runner.Report
		err error
		n   int
	)
	for n = 1; n <= attempts; n++ {
		// Target names hold '-' and digits, never '_': the retry's
		// suffix cannot make another target's id ("db" retried is not
		// "db-2").
		id := f.opts.ID + "-" + job.Name
		if n > 1 {
			id = fmt.Sprintf("%s_%d", id, n)
		}
		ro := runner.RunOptions{
			Params: job.Params, Secrets: job.Secrets, StateDir: f.opts.StateDir, RunID: id,
			Logger: log, Environ: f.opts.Environ, Target: job.Name, Labels: job.Labels, Fleet: f.opts.ID,
		}
		if f.opts.Progress != nil {
			ro.Progress = func(p runner.StreamProgress) {
				f.out.Lock()
				defer f.out.Unlock()
				f.opts.Progress(p)
			}
		}
		rep, err = runner.Run(ctx, f.plan, ro)
		if err == nil || n == attempts || classify(err) != OutcomeFailed || ctx.Err() != nil {
			break
		}
		wait := backoff(f.retry.Backoff, n)
		log.Warn("target failed, trying again", "attempt", n, "of", attempts, "in", wait.String(), "error", err.Error())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	return record(job, rep, err, min(n, attempts)), err
}

// backoff is the wait before attempt n+1: base doubled each time, with
// up to 20% jitter so that targets failing together do not retry
// together.
func backoff(base time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base << (n - 1)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// classify maps a run's error to an outcome.
func classify(err error) Outcome {
	var gate *runner.GateError
	switch {
	case err == nil:
		return OutcomeSucceeded
	case errors.Is(err, runner.ErrInterrupted):
		return OutcomeInterrupted
	case errors.As(err, &gate):
		return OutcomeGateFailed
	}
	return OutcomeFailed
}

// record builds a target's entry from its last run.
func record(job Job, rep *runner.Report, err error, attempts int) Target {
	t := Target{Name: job.Name, Labels: job.Labels, Outcome: classify(err), Attempts: attempts, Status: runner.StatusSucceeded}
	if err != nil {
		t.Status = runner.StatusFailed
		t.Error = err.Error() // the runner redacted it
	}
	if rep == nil {
		return t
	}
	t.Run, t.RunID, t.Status = rep, rep.RunID, rep.Status
	t.Started, t.Finished, t.DurationSeconds = rep.Started, rep.Finished, rep.DurationSeconds
	if rep.Error != "" {
		t.Error = rep.Error
	}
	for _, s := range rep.Steps {
		if s.Kind == runner.KindSink && s.Bytes != nil && s.Status == runner.StatusSucceeded {
			t.StoredBytes += s.Bytes.In
		}
		for _, g := range s.Gates {
			switch {
			case g.Passed:
				t.GatesPassed++
			case g.Failed():
				t.GatesFailed++
			}
		}
	}
	return t
}

// notRun records a target that never ran. Its message is redacted with
// the job's secrets and the environment's.
func notRun(job Job, err error, msg string) (Target, error) {
	env, _ := runner.EnvSecrets(os.Environ())
	red := runner.NewRedactor(append(env, job.Secrets...)...)
	t := Target{Name: job.Name, Labels: job.Labels, Status: runner.StatusFailed, Outcome: OutcomeNotRun, Error: red.Redact(msg)}
	if errors.Is(err, runner.ErrInterrupted) {
		t.Status, t.Outcome = runner.StatusInterrupted, OutcomeInterrupted
	}
	return t, err
}
