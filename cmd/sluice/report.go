package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
	"github.com/sluice-dev/sluice/steps"
)

// cmdReport prints a recorded run's summary, or renders its report.json as
// HTML, JUnit XML, Markdown or JSON, to stdout or a file. Without --format
// it prints the summary `sluice run` printed, on a terminal or not; with
// --out, the file's extension picks the format.
func reportCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{
		Use:               "report RUN_ID|FLEET_ID|PREFIX|latest",
		Short:             "print a run's summary, or render its report as html, junit, markdown or json",
		ValidArgsFunction: a.completeRunIDs,
	})
	fs := c.Flags()
	format := fs.String("format", "", "output format: text (the summary), html, junit, markdown or json (as --json); default text, or from --out's extension (.html, .xml, .md, .json)")
	out := fs.String("out", "", "write to `file` instead of standard output")
	completeValues(c, fs.Lookup("format"), "text", "html", "junit", "markdown", "json")
	c.RunE = func(_ *cobra.Command, pos []string) error { return a.showReport(pos, *format, *out) }
	return c
}

func (a *app) showReport(pos []string, format, out string) error {
	if len(pos) != 1 {
		return usagef("report takes one run id (or latest), got %d arguments", len(pos))
	}
	format, err := a.jsonFormat(format, "")
	if err != nil {
		return err
	}
	stateDir := a.globals.stateDir
	name := format
	if name == "" {
		name = formatFromFile(out)
	}
	var f render.Format
	if name != "text" {
		if f, err = render.ParseFormat(name); err != nil {
			return usagef("--format: unknown report format %q: use text, html, junit, markdown or json", name)
		}
	}
	id, err := resolveReportID(stateDir, pos[0])
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if fr, err := readFleetReport(stateDir, id); err != nil {
		return err
	} else if fr != nil {
		if name == "text" {
			printFleetSummary(&buf, fr, stateDir)
		} else if err := render.RenderFleet(&buf, f, fr); err != nil {
			return fmt.Errorf("report %s: %w", fr.FleetID, err)
		}
	} else {
		rep, err := readRunReport(stateDir, id)
		if err != nil {
			return err
		}
		if name == "text" {
			printSummary(&buf, rep, stateDir)
		} else if err := render.Render(&buf, f, rep, steps.Builtin()); err != nil {
			return fmt.Errorf("report %s: %w", rep.RunID, err)
		}
	}
	if out == "" {
		_, err := a.stdout.Write(buf.Bytes())
		return err
	}
	return writeReportFile(out, buf.Bytes())
}

// formatFromFile is the format a report file's extension asks for; text
// for standard output and unknown extensions.
func formatFromFile(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		return string(render.HTML)
	case ".xml":
		return string(render.JUnit)
	case ".md":
		return string(render.Markdown)
	case ".json":
		return string(render.JSON)
	}
	return "text"
}

// resolveReportID turns a report argument into a run folder's id: latest
// stays (readRunReport and readFleetReport decide it), anything else is an
// id or a prefix of exactly one id.
func resolveReportID(stateDir, arg string) (string, error) {
	if arg == "latest" {
		return arg, nil
	}
	if arg == "" || strings.ContainsAny(arg, `/\`) || arg == "." || arg == ".." {
		return "", usagef("run id %q is not a run folder name (see 'sluice runs')", arg)
	}
	id, err := runner.ResolveRunID(stateDir, arg)
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return id, nil
}

// readRunReport reads the report of run id ("latest": the newest finished
// run) under stateDir.
func readRunReport(stateDir, id string) (*runner.Report, error) {
	if id == "latest" {
		latest, err := runner.LatestRun(stateDir)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		id = latest
	}
	rep, err := runner.ReadReport(filepath.Join(runner.RunDir(stateDir, id), runner.ReportFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("report: run %s has no %s: it is still running, or it was killed", id, runner.ReportFile)
		}
		return nil, fmt.Errorf("report: run %s: %w", id, err)
	}
	return rep, nil
}

// reportTarget is one entry of `sluice run --report`: a format and where to
// write it.
type reportTarget struct {
	format render.Format
	path   string // empty: the format's default name in the run folder
}

// parseReportFlag parses `html,junit` or `html=out/report.html,junit=junit.xml`.
func parseReportFlag(s string) ([]reportTarget, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []reportTarget
	for _, part := range strings.Split(s, ",") {
		name, path, _ := strings.Cut(part, "=")
		f, err := render.ParseFormat(name)
		if err != nil {
			return nil, usagef("--report %q: %v", s, err)
		}
		out = append(out, reportTarget{format: f, path: strings.TrimSpace(path)})
	}
	return out, nil
}

// renderReports writes rep in each requested format; relative default paths
// go into the run folder. It returns the files written.
func renderReports(rep *runner.Report, stateDir string, targets []reportTarget) ([]string, error) {
	var written []string
	for _, t := range targets {
		path := t.path
		if path == "" {
			path = filepath.Join(runner.RunDir(stateDir, rep.RunID), t.format.FileName())
		}
		var buf bytes.Buffer
		if err := render.Render(&buf, t.format, rep, steps.Builtin()); err != nil {
			return written, fmt.Errorf("rendering %s report: %w", t.format, err)
		}
		if err := writeReportFile(path, buf.Bytes()); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// writeReportFile writes b to path, creating its folder; reports may hold
// outputs an operator would rather not share, so the file is 0600.
func writeReportFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// publishReports renders the reports asked for with `run --report` and, on
// GitHub Actions, appends the Markdown summary to the step summary. A run's
// own error matters more than a report's, so the caller keeps the first.
func (a *app) publishReports(rep *runner.Report, stateDir string, targets []reportTarget) error {
	written, err := renderReports(rep, stateDir, targets)
	for _, p := range written {
		fmt.Fprintf(a.stdout, "report: %s\n", p)
	}
	if err != nil {
		return err
	}
	return a.appendStepSummary(rep)
}
