package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

// cmdSteps prints the step catalogue, or one step type's parameters and
// outputs.
func stepsCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "steps [TYPE]",
		Short:             "describe the step types, or one of them",
		ValidArgsFunction: completeStepTypes,
		RunE:              func(_ *cobra.Command, pos []string) error { return a.steps(pos) },
	}
}

func (a *app) steps(pos []string) error {
	reg := steps.Builtin()
	if len(pos) == 0 {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		for _, typ := range reg.Types() {
			d, _ := reg.Lookup(typ)
			fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Type, d.Kind, d.Summary)
		}
		return tw.Flush()
	}
	if len(pos) > 1 {
		return usagef("steps takes at most one step type")
	}
	d, ok := reg.Lookup(pos[0])
	if !ok {
		return usagef("unknown step type %q%s", pos[0], runner.Suggest(pos[0], reg.Types()))
	}
	doc, err := runner.DescribeStepType(d)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s (%s): %s\n\nparameters (with:):\n", doc.Type, doc.Kind, doc.Summary)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, p := range doc.Params {
		var notes []string
		if p.Required {
			notes = append(notes, "required")
		}
		if p.Default != "" {
			notes = append(notes, "default "+p.Default)
		}
		extra := ""
		if len(notes) > 0 {
			extra = " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", p.Name, p.Type, p.Doc, extra)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "\noutputs (steps.ID.NAME):")
	for _, o := range doc.Outputs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Name, o.Type, o.Doc)
	}
	return tw.Flush()
}
