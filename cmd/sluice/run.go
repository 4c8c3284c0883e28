package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

// runFlags are the flags shared by commands that load a plan with params.
type runFlags struct {
	params     multiFlag
	paramsFile string
	dryRun     bool
}

// addParamFlags adds --param, whose help is paramHelp, and --params-file.
func (f *runFlags) addParamFlags(fs *pflag.FlagSet, paramHelp string) {
	fs.Var(&f.params, "param", paramHelp)
	fs.StringVar(&f.paramsFile, "params-file", "", "read parameters from a YAML `file`")
}

func runCommand(a *app) *cobra.Command {
	c := a.planCommand("run PLAN|NAME", "run a plan (a file or a name under --plans-dir)")
	var f runFlags
	fs := c.Flags()
	f.addParamFlags(fs, "set a plan parameter: `name=value` (repeatable)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the resolved DAG and what each step would do; run nothing")
	reportFlag := fs.String("report", "", "also render the report: `formats` html,junit,markdown (into the run folder) or html=FILE,junit=FILE")
	ff := addFleetFlags(fs)
	var mf metricsFlags
	mf.add(fs, "metrics-file", "the run's metrics")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return usagef("run takes one plan (a file or a name), got %d arguments", len(pos))
		}
		if err := ff.check(fs); err != nil {
			return err
		}
		reports, err := parseReportFlag(*reportFlag)
		if err != nil {
			return err
		}
		if err := mf.check(); err != nil {
			return err
		}
		if ff.inventory != "" {
			return a.runFleet(pos[0], &f, ff, reports, &mf)
		}
		return a.run(pos[0], &f, reports, &mf)
	}
	return c
}

// run runs one plan, without an inventory.
func (a *app) run(arg string, f *runFlags, reports []reportTarget, mf *metricsFlags) error {
	plan, values, err := a.loadWithParams(arg, f)
	if err != nil {
		return err
	}
	if f.dryRun {
		return a.dryRun(plan, values)
	}

	out := a.runOutput()
	ctx, stop := a.interruptContext()
	defer stop()
	stateDir := a.globals.stateDir
	opts := runner.RunOptions{
		Params:   values,
		Secrets:  runner.SecretValues(plan, values),
		StateDir: stateDir,
		Logger:   out.logger,
		Progress: out.progress,
	}
	report, err := runner.Run(ctx, plan, opts)
	out.close()
	if report != nil {
		printSummary(a.redactor.Writer(a.stdout), report, stateDir)
		if rerr := a.publishReports(report, stateDir, reports); rerr != nil && err == nil {
			err = rerr
		}
		err = a.exportRunMetrics(mf, plan, values, report, "", err)
	}
	return err
}

// loadWithParams resolves, loads and validates a plan and its parameters, and
// teaches the redactor the secret values before anything else is printed.
func (a *app) loadWithParams(arg string, f *runFlags) (*runner.Plan, map[string]any, error) {
	plan, flags, err := a.loadPlan(arg, f)
	if err != nil {
		return nil, nil, err
	}
	values, err := runner.ResolveParams(plan, runner.ParamSources{Flags: flags, File: f.paramsFile, Environ: os.Environ()})
	// Secrets known so far are redacted from everything printed from now on,
	// a params error included.
	a.teach(append(runner.SecretValues(plan, values), runner.ValueSecrets(values)...)...)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	return plan, values, nil
}

// readPlan resolves a plan argument (see resolvePlan) and loads the plan
// with the built-in step types; it returns the plan's file too.
func (a *app) readPlan(arg string) (string, *runner.Plan, error) {
	file, err := resolvePlan(arg, a.globals.plansDir)
	if err != nil {
		return "", nil, err
	}
	plan, err := runner.LoadFile(file, steps.Builtin(), runner.WithPlansDir(a.globals.plansDir))
	return file, plan, err
}

// loadPlan resolves, loads and validates the plan, prints its warnings and
// parses --param.
func (a *app) loadPlan(arg string, f *runFlags) (*runner.Plan, map[string]string, error) {
	_, plan, err := a.readPlan(arg)
	if err != nil {
		return nil, nil, err
	}
	a.printWarnings(plan)
	flags, err := paramFlags(f.params)
	if err != nil {
		return nil, nil, err
	}
	return plan, flags, nil
}

// printWarnings prints the plan's warnings to stderr, in compiler form.
func (a *app) printWarnings(plan *runner.Plan) {
	for _, w := range plan.Warnings {
		fmt.Fprintln(a.stderr, w.Error())
	}
}

func paramFlags(params []string) (map[string]string, error) {
	out := make(map[string]string, len(params))
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, usagef("--param %q: want name=value", p)
		}
		out[name] = value
	}
	return out, nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
