package main

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice/steps"
)

// Shell completion: cobra's `sluice completion bash|zsh|fish` scripts call
// `sluice __complete ARGS...`, which parses the flags given so far (so that
// --plans-dir and --state-dir on the line are honoured) and asks the
// functions below for the argument under the cursor.

// planCommand is a command whose arguments are plans, completed by
// completePlans.
func (a *app) planCommand(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, ValidArgsFunction: a.completePlans}
}

// completePlans completes a plan argument: the names under --plans-dir,
// or, once the word looks like a path, the YAML files the shell finds.
func (a *app) completePlans(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.ContainsAny(toComplete, `/\.`) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	}
	var names []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		files, _ := filepath.Glob(filepath.Join(a.globals.plansDir, pattern))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			if strings.HasPrefix(name, toComplete) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), cobra.ShellCompDirectiveNoFileComp
}

// completeRunIDs completes a run id: the runs and fleet runs recorded under
// --state-dir, newest first, and latest.
func (a *app) completeRunIDs(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	entries, _ := listRuns(a.globals.stateDir)
	ids := []string{"latest\tthe newest run"}
	for _, e := range entries {
		ids = append(ids, e.ID+"\t"+e.Plan+" "+string(e.Status))
	}
	return filterPrefix(ids, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// completeStepTypes completes a step type from the registry.
func completeStepTypes(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	reg := steps.Builtin()
	var types []string
	for _, typ := range reg.Types() {
		d, _ := reg.Lookup(typ)
		types = append(types, typ+"\t"+d.Summary)
	}
	return filterPrefix(types, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeValues makes f, a flag of c, complete to one of values.
func completeValues(c *cobra.Command, f *pflag.Flag, values ...string) {
	mustRegister(c.RegisterFlagCompletionFunc(f.Name, func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return filterPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}))
}

// completeDirs makes flags of c complete to folders.
func completeDirs(c *cobra.Command, flags ...*pflag.Flag) {
	for _, f := range flags {
		mustRegister(c.RegisterFlagCompletionFunc(f.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}))
	}
}

// completeKeyDirs makes every --key-dir complete to folders: a key store
// is one.
func completeKeyDirs(c *cobra.Command) {
	if f := c.LocalNonPersistentFlags().Lookup("key-dir"); f != nil {
		completeDirs(c, f)
	}
	for _, sub := range c.Commands() {
		completeKeyDirs(sub)
	}
}

// mustRegister panics on a completion registered twice for one flag: a
// mistake in the command tree, caught by every test that builds it.
func mustRegister(err error) {
	if err != nil {
		panic(err)
	}
}

// filterPrefix keeps the candidates ("value" or "value\tdescription") whose
// value starts with prefix.
func filterPrefix(candidates []string, prefix string) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
