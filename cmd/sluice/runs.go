package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/fleet"
)

// runEntry is one line of `sluice runs`: a run, a fleet run, or a run
// folder without a report (still running, or killed).
type runEntry struct {
	ID              string        `json:"id"`
	Kind            string        `json:"kind"` // run or fleet
	Plan            string        `json:"plan,omitempty"`
	Target          string        `json:"target,omitempty"`
	Fleet           string        `json:"fleet,omitempty"`
	Status          runner.Status `json:"status"` // unfinished without a report
	Started         time.Time     `json:"started"`
	DurationSeconds float64       `json:"duration_seconds"`
}

// statusUnfinished is the status of a run folder without a report.
const statusUnfinished runner.Status = "unfinished"

// cmdRuns lists the recorded runs, newest first.
func runsCommand(a *app) *cobra.Command {
	return withJSON(&cobra.Command{
		Use:   "runs",
		Short: "list the recorded runs, newest first",
		Args:  noArgs,
		RunE:  func(*cobra.Command, []string) error { return a.runs() },
	})
}

func (a *app) runs() error {
	entries, err := listRuns(a.globals.stateDir)
	if err != nil {
		return err
	}
	w := a.redactor.Writer(a.stdout)
	defer flushWriter(w)
	if a.globals.json {
		if entries == nil {
			entries = []runEntry{}
		}
		b, err := json.MarshalIndent(entries, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintf(w, "no runs recorded in %s\n", filepath.Join(a.globals.stateDir, "runs"))
		return nil
	}
	targets := false
	for _, e := range entries {
		targets = targets || e.Target != ""
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if targets {
		fmt.Fprintln(tw, "ID\tPLAN\tTARGET\tSTATUS\tSTARTED\tTOOK")
	} else {
		fmt.Fprintln(tw, "ID\tPLAN\tSTATUS\tSTARTED\tTOOK")
	}
	for _, e := range entries {
		plan := e.Plan
		if e.Kind == "fleet" {
			plan += " (fleet)"
		}
		took := "-"
		if e.Status != statusUnfinished {
			took = humanTook(e.DurationSeconds)
		}
		started := e.Started.UTC().Format("2006-01-02 15:04:05Z")
		if targets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, plan, e.Target, e.Status, started, took)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, plan, e.Status, started, took)
		}
	}
	return tw.Flush()
}

// humanTook renders a run's duration: 0.4s, 42.0s, 3m12s.
func humanTook(seconds float64) string {
	if seconds < 60 {
		return fmt.Sprintf("%.1fs", seconds)
	}
	return time.Duration(seconds * float64(time.Second)).Round(time.Second).String()
}

// listRuns returns every run and fleet run under stateDir, newest first.
func listRuns(stateDir string) ([]runEntry, error) {
	folders, err := runner.ListRunFolders(stateDir)
	if err != nil {
		return nil, err
	}
	var out []runEntry
	for _, f := range folders {
		e := runEntry{ID: f.ID, Kind: "run", Status: statusUnfinished, Started: f.Started}
		switch {
		case f.Report != nil:
			r := f.Report
			e.Plan, e.Target, e.Fleet, e.Status, e.DurationSeconds = r.Plan, r.Target, r.Fleet, r.Status, r.DurationSeconds
		case fleet.IsFleet(stateDir, f.ID):
			e.Kind = "fleet"
			if fr, err := fleet.ReadReport(filepath.Join(fleet.Dir(stateDir, f.ID), fleet.ReportFile)); err == nil {
				e.Plan, e.Status, e.Started, e.DurationSeconds = fr.Plan, fr.Status, fr.Started, fr.DurationSeconds
			}
		}
		out = append(out, e)
	}
	// A fleet's start time comes from its report: keep newest first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// flushWriter flushes w when it buffers (a redacting writer does).
func flushWriter(w any) {
	if f, ok := w.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
}
