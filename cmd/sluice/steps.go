package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

// stepsCommand prints the step catalogue, or one step type's parameters
// and outputs: as text, or as JSON or Markdown with every detail (the
// Markdown of every type is docs/steps.md).
func stepsCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{
		Use:               "steps [TYPE]",
		Short:             "describe the step types, or one of them",
		ValidArgsFunction: completeStepTypes,
	})
	fs := c.Flags()
	format := fs.String("format", "text", "output format: text, json (as --json) or markdown; json and markdown describe every type, or TYPE")
	completeValues(c, fs.Lookup("format"), "text", "json", "markdown")
	c.RunE = func(_ *cobra.Command, pos []string) error { return a.steps(pos, *format) }
	return c
}

func (a *app) steps(pos []string, format string) error {
	format, err := a.jsonFormat(format, "text")
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("steps takes at most one step type")
	}
	reg := steps.Builtin()
	types := reg.Types()
	if len(pos) == 1 {
		if _, ok := reg.Lookup(pos[0]); !ok {
			return usagef("unknown step type %q%s", pos[0], runner.Suggest(pos[0], reg.Types()))
		}
		types = pos
	}
	var docs []runner.StepDoc
	for _, typ := range types {
		d, _ := reg.Lookup(typ)
		doc, err := runner.DescribeStepType(d)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	}
	switch format {
	case "text":
		if len(pos) == 0 {
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, d := range docs {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Type, d.Kind, d.Summary)
			}
			return tw.Flush()
		}
		return writeStepText(a.stdout, docs[0])
	case "json":
		b, err := json.MarshalIndent(map[string]any{"steps": docs}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	case "markdown", "md":
		return writeStepsMarkdown(a.stdout, docs)
	}
	return usagef("--format: unknown format %q: use text, json or markdown", format)
}

// writeStepText prints one step type for a terminal.
func writeStepText(w io.Writer, doc runner.StepDoc) error {
	fmt.Fprintf(w, "%s (%s): %s\n\nparameters (with:):\n", doc.Type, doc.Kind, doc.Summary)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range doc.Params {
		var notes []string
		if p.Required {
			notes = append(notes, "required")
		}
		if p.Enum != nil {
			notes = append(notes, "one of "+strings.Join(p.Enum, ", "))
		}
		if p.Default != "" {
			notes = append(notes, "default "+p.Default)
		}
		extra := ""
		if len(notes) > 0 {
			extra = " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", p.Name, p.Type, p.Doc, extra)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\noutputs (steps.ID.NAME):")
	for _, o := range doc.Outputs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Name, o.Type, o.Doc)
	}
	return tw.Flush()
}

// writeStepsMarkdown writes the step reference: an index, then per type its
// parameters and outputs.
func writeStepsMarkdown(w io.Writer, docs []runner.StepDoc) error {
	var b strings.Builder
	b.WriteString("# Step reference\n\n")
	b.WriteString("Generated from the step registry by `sluice steps --format markdown`\n")
	b.WriteString("(`make docs`); a test fails when this file is stale. Do not edit it by hand.\n")
	b.WriteString("Parameters go under a step's `with:`; outputs are read as `steps.ID.NAME`.\n\n")
	b.WriteString("| type | kind | summary |\n|---|---|---|\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", d.Type, d.Type, d.Kind, cell(d.Summary))
	}
	for _, d := range docs {
		fmt.Fprintf(&b, "\n## %s\n\n%s (%s).\n", d.Type, strings.TrimSuffix(d.Summary, "."), d.Kind)
		if len(d.Params) > 0 {
			b.WriteString("\n| parameter | type | default | values | description |\n|---|---|---|---|---|\n")
			for _, p := range d.Params {
				def := code(p.Default)
				if p.Required {
					def = "required"
				}
				var values []string
				for _, v := range p.Enum {
					values = append(values, code(v))
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p.Name, cell(p.Type), def, strings.Join(values, ", "), cell(p.Doc))
			}
		}
		b.WriteString("\n| output | type | description |\n|---|---|---|\n")
		for _, o := range d.Outputs {
			doc := cell(o.Doc)
			if o.Conditional {
				doc = "(conditional) " + doc
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Name, cell(o.Type), doc)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// code quotes a value as inline code; empty stays empty.
func code(s string) string {
	if s == "" {
		return ""
	}
	if strings.Contains(s, "`") {
		return "`` " + cell(s) + " ``"
	}
	return "`" + cell(s) + "`"
}
