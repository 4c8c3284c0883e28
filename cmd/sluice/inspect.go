package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

func validateCommand(a *app) *cobra.Command {
	c := a.planCommand("validate PLAN|NAME...", "check plans and report every problem")
	inv := c.Flags().String("inventory", "", "also check an inventory `file` against each plan's params")
	c.RunE = func(_ *cobra.Command, pos []string) error { return a.validate(pos, *inv) }
	return c
}

func (a *app) validate(pos []string, inv string) error {
	if len(pos) == 0 {
		return usagef("validate needs at least one plan")
	}
	var all runner.PlanErrors
	for _, arg := range pos {
		file, plan, err := a.readPlan(arg)
		if err != nil {
			pe, ok := err.(runner.PlanErrors)
			if !ok {
				return err
			}
			all = append(all, pe...)
			continue
		}
		a.printWarnings(plan)
		fmt.Fprintf(a.stdout, "%s: ok\n", file)
		if inv != "" {
			if err := a.validateInventory(plan, inv); err != nil {
				pe, ok := err.(runner.PlanErrors)
				if !ok {
					return err
				}
				all = append(all, pe...)
			}
		}
	}
	if len(all) > 0 {
		return all
	}
	return nil
}

func graphCommand(a *app) *cobra.Command {
	c := a.planCommand("graph PLAN|NAME", "print a plan's DAG as Mermaid or Graphviz dot")
	var f runFlags
	fs := c.Flags()
	format := fs.String("format", "mermaid", "output format: mermaid or dot")
	f.addParamFlags(fs, "a plan parameter `name=value` (repeatable): a for_each over params is drawn expanded with these values, else with the defaults")
	completeValues(c, fs.Lookup("format"), "mermaid", "dot")
	c.RunE = func(_ *cobra.Command, pos []string) error { return a.graph(pos, *format, f.params, f.paramsFile) }
	return c
}

func (a *app) graph(pos []string, format string, params []string, paramsFile string) error {
	if len(pos) != 1 {
		return usagef("graph takes one plan")
	}
	_, plan, err := a.readPlan(pos[0])
	if err != nil {
		return err
	}
	flags, err := paramFlags(params)
	if err != nil {
		return err
	}
	// A graph needs no value for a required param: only those given count.
	relaxed := *plan
	relaxed.Params = nil
	for _, ps := range plan.Params {
		cp := *ps
		cp.Required = false
		relaxed.Params = append(relaxed.Params, &cp)
	}
	values, err := runner.ResolveParams(&relaxed, runner.ParamSources{Flags: flags, File: paramsFile, Environ: os.Environ()})
	a.teach(append(runner.SecretValues(plan, values), runner.ValueSecrets(values)...)...)
	if err != nil {
		return usagef("%v", err)
	}
	out, err := runner.Graph(plan, format, values)
	if err != nil {
		return usagef("%v", err)
	}
	// Items are drawn by key, and a key may hold a password.
	fmt.Fprint(a.stdout, a.redactor.Redact(out))
	return nil
}

func listCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list the named plans with their descriptions",
		Args:  noArgs,
		RunE:  func(*cobra.Command, []string) error { return a.list() },
	}
}

func (a *app) list() error {
	plansDir := a.globals.plansDir
	files, err := filepath.Glob(filepath.Join(plansDir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		return usagef("no plans in %s (set --plans-dir)", plansDir)
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		plan, err := runner.LoadFile(f, steps.Builtin(), runner.WithPlansDir(plansDir))
		if err != nil {
			fmt.Fprintf(a.stdout, "%-16s (invalid: run 'sluice validate %s')\n", name, f)
			continue
		}
		fmt.Fprintf(a.stdout, "%-16s %s\n", name, plan.Description)
	}
	return nil
}

func schemaCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "print the JSON Schema of plans",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			out, err := runner.Schema(steps.Builtin())
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
}

// dryRun prints the DAG in the order it would run and each step's settings
// with every expression known before the run resolved (params, env, plan),
// saying which wait for step outputs or the run; secret values redacted.
func (a *app) dryRun(plan *runner.Plan, values map[string]any) error {
	w := a.redactor.Writer(a.stdout)
	fmt.Fprintf(w, "plan %s (%s): dry run, nothing is executed\n", plan.Name, plan.File)
	if len(plan.Params) > 0 {
		fmt.Fprintln(w, "params:")
		for _, p := range plan.Params {
			v := values[p.Name]
			if p.Secret {
				v = "***"
			}
			fmt.Fprintf(w, "  %s = %v\n", p.Name, v)
		}
	}
	fmt.Fprintln(w, "steps, in order (${{ }} known before the run resolved):")
	dryRunSteps(w, plan, values, "")
	if f, ok := w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// dryRunSteps prints plan's steps in order, indented: for a for_each, its
// items when params decide them; for a step that runs a plan, that plan's
// steps below it, with the params known before the run.
func dryRunSteps(w io.Writer, plan *runner.Plan, values map[string]any, indent string) {
	env := runner.PreviewEnv(plan, values, os.Environ())
	for i, s := range topoOrder(plan) {
		fmt.Fprintf(w, "%s%d. %s (%s %s)", indent, i+1, s.ID, s.Def.Kind, s.Type)
		if s.Input != "" {
			fmt.Fprintf(w, " reads %s", s.Input)
		}
		if len(s.Deps) > 0 {
			fmt.Fprintf(w, " after %s", strings.Join(s.Deps, ", "))
		}
		fmt.Fprintln(w)
		in := indent + "   "
		if s.ForEach != nil {
			keys, known := runner.KnownItems(plan, s, values)
			switch {
			case known:
				fmt.Fprintf(w, "%sfor each of %d item%s: %s\n", in, len(keys), runner.Plural(len(keys)), strings.Join(keys, ", "))
			case s.ForEach.Expr != nil:
				fmt.Fprintf(w, "%sfor each item of: %s (known when the step starts)\n", in, s.ForEach.Expr)
			}
		}
		if s.When != nil {
			fmt.Fprintf(w, "%swhen: %s%s\n", in, s.When, previewWhen(s.When, env))
		}
		printPreviewWith(w, s, env, in)
		for _, as := range s.Asserts {
			fmt.Fprintf(w, "%sassert: %s\n", in, as.That)
		}
		if s.Calls != nil {
			each := ""
			if s.ForEach != nil {
				each = " for each item"
			}
			fmt.Fprintf(w, "%sruns plan %s (%s)%s; its steps in order:\n", in, s.Calls.Name, s.Calls.File, each)
			dryRunSteps(w, s.Calls, runner.PreviewCallParams(s, values), in)
		}
	}
}

// topoOrder lists the steps so that each comes after its dependencies,
// keeping file order among independent steps.
func topoOrder(plan *runner.Plan) []*runner.Step {
	done := make(map[string]bool, len(plan.Steps))
	var order []*runner.Step
	for len(order) < len(plan.Steps) {
		progressed := false
		for _, s := range plan.Steps {
			if done[s.ID] || !allDone(s.Deps, done) {
				continue
			}
			done[s.ID] = true
			order = append(order, s)
			progressed = true
		}
		if !progressed { // validated plans have no cycle; be safe anyway
			break
		}
	}
	return order
}

func allDone(ids []string, done map[string]bool) bool {
	for _, id := range ids {
		if !done[id] {
			return false
		}
	}
	return true
}
