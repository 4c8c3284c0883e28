package render

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/fleet"
)

//go:embed fleet.tmpl
var fleetSource string

var fleetTemplate = template.Must(template.New("fleet").Funcs(pageFuncs(template.FuncMap{
	"gates": allGates,
	// What a streaming step passed on; for a sink, what it stored; nil for
	// an action.
	"streamed": func(s runner.StepReport) *int64 {
		switch {
		case s.Bytes == nil:
			return nil
		case s.Kind == runner.KindSink:
			return &s.Bytes.In
		}
		return &s.Bytes.Out
	},
})).Parse(fleetSource))

// RenderFleet writes a fleet's combined report r to w in format f.
func RenderFleet(w io.Writer, f Format, r *fleet.Report) error {
	return renderAs(w, f, r, WriteFleetHTML, WriteFleetJUnit, WriteFleetMarkdown)
}

// FleetVerdict is the one-word outcome of a fleet: PASS when every target
// succeeded, INTERRUPTED, or FAIL.
func FleetVerdict(r *fleet.Report) string {
	return Verdict(&runner.Report{Status: r.Status})
}

// fleetCounts says how many targets ended how, worst first: "1 failed,
// 3 succeeded".
func fleetCounts(r *fleet.Report) string {
	n := r.Counts()
	var parts []string
	for _, o := range []fleet.Outcome{fleet.OutcomeInterrupted, fleet.OutcomeNotRun, fleet.OutcomeFailed, fleet.OutcomeGateFailed, fleet.OutcomeSucceeded} {
		if n[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[o], o))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteFleetHTML writes r as one self-contained page: a table of the
// targets (status, duration, stored bytes, gates), each linking to its
// section with the target's steps, gates and error. No script, no network.
func WriteFleetHTML(w io.Writer, r *fleet.Report) error {
	v := struct {
		R       *fleet.Report
		Verdict string
		Counts  string
		Stored  int64
	}{R: r, Verdict: FleetVerdict(r), Counts: fleetCounts(r)}
	for _, t := range r.Targets {
		v.Stored += t.StoredBytes
	}
	return writePage(w, fleetTemplate, v)
}

// WriteFleetMarkdown writes r as GitHub-flavoured Markdown: the verdict,
// a table of the targets, then each failed target's error.
func WriteFleetMarkdown(w io.Writer, r *fleet.Report) error {
	b := bufio.NewWriter(w)
	icon := map[string]string{"PASS": "✅", "FAIL": "❌", "INTERRUPTED": "⏹️"}[FleetVerdict(r)]
	fmt.Fprintf(b, "## %s sluice: %s over %d targets — %s\n\n", icon, mdText(r.Plan), len(r.Targets), FleetVerdict(r))
	fmt.Fprintf(b, "Fleet `%s` (inventory `%s`, %d at once) started %s, took %s: %s.\n\n", mdCode(r.FleetID), mdCode(r.Inventory),
		r.Parallel, utcStamp(r.Started), humanSeconds(r.DurationSeconds), fleetCounts(r))
	fmt.Fprintln(b, "| target | status | duration | bytes | gates | run |")
	fmt.Fprintln(b, "|---|---|---:|---:|---|---|")
	for _, t := range r.Targets {
		gates := fmt.Sprintf("%d passed", t.GatesPassed)
		if t.GatesFailed > 0 {
			gates += fmt.Sprintf(", %d failed", t.GatesFailed)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | `%s` |\n", mdCell(t.Name), outcomeWord(t.Outcome), humanSeconds(t.DurationSeconds),
			runner.FormatBytes(t.StoredBytes), gates, mdCode(t.RunID))
	}
	for _, t := range r.Targets {
		if t.Error != "" {
			fmt.Fprintf(b, "\n**%s**: %s\n", mdText(t.Name), mdText(t.Error))
		}
	}
	return b.Flush()
}

func outcomeWord(o fleet.Outcome) string {
	switch o {
	case fleet.OutcomeSucceeded:
		return "✅ succeeded"
	case fleet.OutcomeInterrupted:
		return "⏹️ interrupted"
	}
	return "❌ " + string(o)
}

// WriteFleetJUnit writes r as JUnit XML: a testsuite per target (named
// PLAN/TARGET, classnames PLAN.TARGET.steps and .gates), the same cases as
// a single run's; a target that never ran is one error case.
func WriteFleetJUnit(w io.Writer, r *fleet.Report) error {
	doc := junitSuites{Name: r.Plan, Time: secs(r.DurationSeconds)}
	for _, t := range r.Targets {
		var s junitSuite
		if t.Run != nil {
			s = runSuite(t.Run)
			for i := range s.Cases {
				s.Cases[i].Classname = r.Plan + "." + t.Name + strings.TrimPrefix(s.Cases[i].Classname, t.Run.Plan)
			}
		} else {
			s = junitSuite{ID: t.Name, Time: "0", Timestamp: r.Started.UTC().Format(time.RFC3339), Errors: 1, Tests: 1,
				Cases: []junitCase{{Name: "run", Classname: r.Plan + "." + t.Name, Time: "0",
					Error: &junitProblem{Message: t.Error, Type: string(t.Outcome), Text: t.Error}}}}
		}
		s.Name = r.Plan + "/" + t.Name
		s.Properties = append(s.Properties, junitProperty{"sluice.target", t.Name}, junitProperty{"sluice.fleet_id", r.FleetID},
			junitProperty{"sluice.outcome", string(t.Outcome)})
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	return writeJUnitDoc(w, doc)
}
