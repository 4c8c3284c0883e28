package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/fleet"
	"github.com/sluice-dev/sluice/runner/inventory"
	"github.com/sluice-dev/sluice/runner/render"
)

// fleetFlags are the flags of `sluice run --inventory`.
type fleetFlags struct {
	inventory   string
	parallel    int
	targets     multiFlag
	targetIndex int
	selector    string
}

func addFleetFlags(fs *pflag.FlagSet) *fleetFlags {
	ff := &fleetFlags{}
	fs.StringVar(&ff.inventory, "inventory", "", "run the plan once per target of an inventory `file` (see docs/fleet.md)")
	fs.IntVar(&ff.parallel, "parallel", fleet.DefaultParallel, "with --inventory: run at most `n` targets at once")
	fs.Var(&ff.targets, "target", "with --inventory: run only the target `name` (repeatable)")
	fs.IntVar(&ff.targetIndex, "target-index", -1, "with --inventory: run only the target at position `i` in the file, from 0 (a Kubernetes Indexed Job's $JOB_COMPLETION_INDEX)")
	fs.StringVar(&ff.selector, "selector", "", "with --inventory: run only the targets with these labels: `label=value,...`")
	return ff
}

// check refuses fleet flags without --inventory and contradictory ones.
func (ff *fleetFlags) check(fs *pflag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
	if ff.inventory == "" {
		for _, name := range []string{"parallel", "target", "target-index", "selector"} {
			if set[name] {
				return usagef("--%s needs --inventory", name)
			}
		}
		return nil
	}
	if ff.parallel < 1 {
		return usagef("--parallel %d: want at least 1", ff.parallel)
	}
	if set["target-index"] && (len(ff.targets) > 0 || ff.selector != "") {
		return usagef("--target-index selects one target by position: it cannot be combined with --target or --selector")
	}
	return nil
}

// selectTargets applies --target-index, or --target and --selector.
func (ff *fleetFlags) selectTargets(inv *inventory.Inventory) ([]*inventory.Target, error) {
	if ff.targetIndex >= 0 {
		t, err := inv.ByIndex(ff.targetIndex)
		if err != nil {
			return nil, usagef("--target-index: %v", err)
		}
		return []*inventory.Target{t}, nil
	}
	sel, err := inventory.ParseSelector(ff.selector)
	if err != nil {
		return nil, usagef("--selector: %v", err)
	}
	ts, err := inv.Select(ff.targets, sel)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return ts, nil
}

// runFleet is `sluice run PLAN --inventory FILE`: the plan once per
// selected target, at most --parallel at once, and one combined report.
func (a *app) runFleet(arg string, f *runFlags, ff *fleetFlags, reports []reportTarget, mf *metricsFlags) error {
	plan, flags, err := a.loadPlanAndFlags(arg, f)
	if err != nil {
		return err
	}
	inv, err := loadInventory(plan, ff.inventory, givenParams(flags, f.paramsFile))
	if err != nil {
		return err
	}
	targets, err := ff.selectTargets(inv)
	if err != nil {
		return err
	}
	jobs, secrets := fleetJobs(plan, inv, targets, flags, f.paramsFile)
	a.teach(secrets...)
	if f.dryRun {
		return a.fleetDryRun(plan, jobs)
	}
	ro := a.runOutput()
	ctx, stop := a.interruptContext()
	defer stop()
	out := a.redactor.Writer(ro.above(a.stdout))
	opts := fleet.Options{
		Parallel: ff.parallel, StateDir: a.globals.stateDir, Inventory: inv.File, Logger: ro.logger, Progress: ro.progress,
		Done: func(t fleet.Target) {
			printTargetLine(out, t)
			a.exportTargetMetrics(mf, plan, jobs, a.globals.stateDir, t)
		},
	}
	rep, err := fleet.Run(ctx, plan, jobs, opts)
	ro.close()
	if rep != nil {
		printFleetSummary(out, rep, a.globals.stateDir)
		if rerr := a.publishFleetReports(rep, a.globals.stateDir, reports); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// loadPlanAndFlags loads and validates the plan and parses --param; with
// an inventory, the params are resolved per target later.
func (a *app) loadPlanAndFlags(arg string, f *runFlags) (*runner.Plan, map[string]string, error) {
	plan, flags, err := a.loadPlan(arg, f)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, len(plan.Params))
	known := map[string]bool{}
	for i, ps := range plan.Params {
		names[i], known[ps.Name] = ps.Name, true
	}
	for name := range flags {
		if !known[name] {
			return nil, nil, usagef("--param %s: plan %q has no such param%s", name, plan.Name, runner.Suggest(name, names))
		}
	}
	return plan, flags, nil
}

// loadInventory loads the inventory and checks it against the plan.
func loadInventory(plan *runner.Plan, file string, given func(string) bool) (*inventory.Inventory, error) {
	return inventory.LoadFor(file, plan, given)
}

// givenParams says which params reach every target besides the inventory:
// --param, SLUICE_PARAM_* and the params file.
func givenParams(flags map[string]string, paramsFile string) func(string) bool {
	inFile := map[string]bool{}
	if paramsFile != "" {
		if b, err := os.ReadFile(paramsFile); err == nil {
			var m map[string]yaml.Node
			if yaml.Unmarshal(b, &m) == nil {
				for k := range m {
					inFile[k] = true
				}
			}
		}
	}
	return func(name string) bool {
		_, inEnv := os.LookupEnv(runner.ParamEnvName(name))
		_, inFlags := flags[name]
		return inFlags || inEnv || inFile[name]
	}
}

// fleetJobs resolves each target's params: --param over the target's over
// the inventory's defaults over SLUICE_PARAM_* over the params file over
// the plan's defaults. A target whose params do not resolve (an unset
// environment variable) becomes a job with its error: it is reported, the
// others run. It returns the secrets of every target, for redaction.
func fleetJobs(plan *runner.Plan, inv *inventory.Inventory, targets []*inventory.Target, flags map[string]string, paramsFile string) ([]fleet.Job, []string) {
	var jobs []fleet.Job
	var secrets []string
	for _, t := range targets {
		job := fleet.Job{Name: t.Name, Labels: t.Labels}
		vals, err := t.Resolve(os.LookupEnv)
		if err == nil {
			job.Params, err = runner.ResolveParams(plan, runner.ParamSources{
				Flags: flags, Target: vals, TargetFile: inv.File, File: paramsFile, Environ: os.Environ(),
			})
			if err != nil {
				err = fmt.Errorf("target %q: %w", t.Name, err)
			}
		}
		if err != nil {
			// A run-time failure of this target (exit 1), not an invalid
			// plan: the other targets ran.
			job.Err = errors.New(err.Error())
		} else {
			job.Secrets = append(runner.SecretValues(plan, job.Params), runner.ValueSecrets(job.Params)...)
			secrets = append(secrets, job.Secrets...)
		}
		jobs = append(jobs, job)
	}
	return jobs, secrets
}

func (a *app) fleetDryRun(plan *runner.Plan, jobs []fleet.Job) error {
	for _, j := range jobs {
		fmt.Fprintf(a.redactor.Writer(a.stdout), "target %s:\n", j.Name)
		if j.Err != nil {
			fmt.Fprintf(a.redactor.Writer(a.stdout), "  cannot run: %v\n", j.Err)
			continue
		}
		if err := a.dryRun(plan, j.Params); err != nil {
			return err
		}
	}
	return nil
}

// printTargetLine says that one target ended, as it happens.
func printTargetLine(w io.Writer, t fleet.Target) {
	switch {
	case t.Outcome == fleet.OutcomeSucceeded:
		fmt.Fprintf(w, "target %s: succeeded in %.1fs (run %s)\n", t.Name, t.DurationSeconds, t.RunID)
	case t.RunID == "":
		fmt.Fprintf(w, "target %s: %s: %s\n", t.Name, t.Outcome, t.Error)
	default:
		fmt.Fprintf(w, "target %s: %s in %.1fs (run %s): %s\n", t.Name, t.Outcome, t.DurationSeconds, t.RunID, t.Error)
	}
}

// printFleetSummary writes a table of the targets and where the combined
// report is.
func printFleetSummary(w io.Writer, rep *fleet.Report, stateDir string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATUS\tTIME\tBYTES\tGATES\tRUN")
	for _, t := range rep.Targets {
		gates := fmt.Sprintf("%d/%d", t.GatesPassed, t.GatesPassed+t.GatesFailed)
		fmt.Fprintf(tw, "%s\t%s\t%.2fs\t%s\t%s\t%s\n", t.Name, t.Outcome, t.DurationSeconds, runner.FormatBytes(t.StoredBytes), gates, t.RunID)
	}
	_ = tw.Flush()
	var parts []string
	counts := rep.Counts()
	for _, o := range []fleet.Outcome{fleet.OutcomeSucceeded, fleet.OutcomeGateFailed, fleet.OutcomeFailed, fleet.OutcomeNotRun, fleet.OutcomeInterrupted} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	fmt.Fprintf(w, "fleet %s %s in %.1fs: %s: %s\n", rep.FleetID, rep.Status, rep.DurationSeconds, strings.Join(parts, ", "),
		filepath.Join(fleet.Dir(stateDir, rep.FleetID), fleet.ReportFile))
}

// publishFleetReports renders the combined report in the formats of
// --report (default names go into the fleet's folder) and, on GitHub
// Actions, appends its Markdown to the step summary.
func (a *app) publishFleetReports(rep *fleet.Report, stateDir string, targets []reportTarget) error {
	for _, t := range targets {
		path := t.path
		if path == "" {
			path = filepath.Join(fleet.Dir(stateDir, rep.FleetID), t.format.FileName())
		}
		if err := writeRendered(path, func(w io.Writer) error { return render.RenderFleet(w, t.format, rep) }); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "report: %s\n", path)
	}
	return a.appendSummary(func(w io.Writer) error { return render.WriteFleetMarkdown(w, rep) })
}

// writeRendered renders a report with fn and writes it to path (0600).
func writeRendered(path string, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return fmt.Errorf("rendering report: %w", err)
	}
	return writeReportFile(path, buf.Bytes())
}

// readFleetReport reads the combined report of fleet id ("latest": when
// the newest run is a fleet or one of its targets); nil when id is a
// plain run.
func readFleetReport(stateDir, id string) (*fleet.Report, error) {
	if id == "latest" {
		latest, isFleet, err := fleet.Latest(stateDir)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if !isFleet {
			return nil, nil
		}
		id = latest
	}
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." || !fleet.IsFleet(stateDir, id) {
		return nil, nil
	}
	rep, err := fleet.ReadReport(filepath.Join(fleet.Dir(stateDir, id), fleet.ReportFile))
	if err != nil {
		return nil, fmt.Errorf("report: fleet %s: %w", id, err)
	}
	return rep, nil
}

// validateInventory is `sluice validate PLAN --inventory FILE`: the
// inventory's problems against the plan, or a line saying it is fine.
func (a *app) validateInventory(plan *runner.Plan, file string) error {
	inv, err := loadInventory(plan, file, givenParams(nil, ""))
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: ok for %s (%d targets)\n", file, plan.File, len(inv.Targets))
	return nil
}
