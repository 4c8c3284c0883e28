package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// The JUnit structure CI systems (Jenkins, GitLab, GitHub test reporters)
// read: testsuites > testsuite > testcase with failure/error/skipped.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	ID         string          `xml:"id,attr"`
	File       string          `xml:"file,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      string        `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitProblem `xml:"skipped"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r as JUnit XML: one testsuite for the run, a testcase
// per step (classname PLAN.steps) and per gate (classname PLAN.gates);
// for_each items and the steps of called plans are testcases named by
// their path (backup[shop]/upload). A
// failed step or gate is a failure, an interrupted step an error, and a
// skipped or cancelled step is skipped with the reason. A failure's text
// lists the findings (with their fixes) of the step, or of the steps the
// gate reads.
func WriteJUnit(w io.Writer, r *runner.Report) error {
	suite := runSuite(r)
	doc := junitSuites{Name: r.Plan, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite}}
	return writeJUnitDoc(w, doc)
}

// runSuite is the testsuite of one run.
func runSuite(r *runner.Report) junitSuite {
	suite := junitSuite{
		Name:      r.Plan,
		ID:        r.RunID,
		File:      r.PlanFile,
		Time:      secs(r.DurationSeconds),
		Timestamp: r.Started.UTC().Format(time.RFC3339),
		Properties: []junitProperty{
			{"sluice.run_id", r.RunID}, {"sluice.status", string(r.Status)}, {"sluice.verdict", Verdict(r)},
		},
	}
	for _, row := range allSteps(r) {
		s := row.StepReport
		c := junitCase{Name: row.Path + " (" + s.Type + ")", Classname: r.Plan + ".steps", Time: secs(s.DurationSeconds), File: r.PlanFile}
		switch s.Status {
		case runner.StatusFailed:
			c.Failure = &junitProblem{Message: s.Error, Type: "step failed", Text: withFindings(s.Error, stepFindings(s))}
			suite.Failures++
		case runner.StatusInterrupted:
			c.Error = &junitProblem{Message: s.Error, Type: "interrupted", Text: s.Error}
			suite.Errors++
		case runner.StatusSkipped, runner.StatusCancelled:
			msg := string(s.Status)
			if s.Error != "" {
				msg += ": " + s.Error
			}
			c.Skipped = &junitProblem{Message: msg, Type: string(s.Status)}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, g := range allGates(r) {
		c := junitCase{Name: g.Step + ": " + g.Expr, Classname: r.Plan + ".gates", Time: "0", File: g.File}
		if g.Line > 0 {
			c.Line = strconv.Itoa(g.Line)
		}
		switch {
		case g.NotEvaluated:
			c.Skipped = &junitProblem{Message: "not evaluated: step " + g.Step + " did not get to check it", Type: "not evaluated"}
			suite.Skipped++
		case !g.Passed:
			c.Failure = &junitProblem{Message: gateLine(g.GateResult), Type: "gate failed", Text: withFindings(gateLine(g.GateResult), gateFindings(r, g.Step, g.Expr))}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	if r.Error != "" && suite.Failures+suite.Errors == 0 {
		// The run failed outside any step (e.g. setting up a stream): say so,
		// or a CI parser would show a green build.
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: r.Plan, Time: "0",
			Error: &junitProblem{Message: r.Error, Type: string(r.Status), Text: r.Error}})
		suite.Errors++
	}
	suite.Tests = len(suite.Cases)
	return suite
}

// writeJUnitDoc writes doc with the XML header.
func writeJUnitDoc(w io.Writer, doc junitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("rendering junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// withFindings is a failure's text followed by the findings behind it, each
// with its fix.
func withFindings(text string, fs []Finding) string {
	if len(fs) == 0 {
		return text
	}
	return text + "\n\nfindings:\n" + findingsText(fs)
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
