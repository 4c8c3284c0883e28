package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sluice-dev/sluice/runner"
)

var t0 = time.Date(2026, 11, 26, 22, 34, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// outputs decodes JSON outputs as a report read from report.json has them.
func outputs(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fixtureReport is a run of every step type whose outputs Run reads.
func fixtureReport(t *testing.T, status runner.Status) *runner.Report {
	runID := "20261126T223400Z-3f9a"
	return &runner.Report{
		Version: runner.ReportVersion, RunID: runID, Plan: "nightly", Started: at(0), Finished: at(90), DurationSeconds: 90, Status: status,
		Steps: []runner.StepReport{
			{ID: "dump", Type: "dump", Kind: runner.KindSource, Status: runner.StatusSucceeded, Started: at(1), Finished: at(60), DurationSeconds: 59,
				Bytes: &runner.ByteCounts{Out: 5000}, Outputs: outputs(t, `{"database": "app", "bytes": 5000}`)},
			{ID: "enc", Type: "encrypt", Kind: runner.KindTransform, Input: "dump", Status: runner.StatusSucceeded, Started: at(1), Finished: at(60), DurationSeconds: 59,
				Bytes: &runner.ByteCounts{In: 5000, Out: 5100}},
			{ID: "upload", Type: "upload", Kind: runner.KindSink, Input: "enc", Status: runner.StatusSucceeded, Started: at(1), Finished: at(61), DurationSeconds: 60,
				Bytes: &runner.ByteCounts{In: 5100}, Outputs: outputs(t, `{"bytes": 5100, "url": "s3://bk/app/2026-11-26/app-`+runID+`.dump.zst.age"}`),
				Gates: []runner.GateResult{{Expr: "steps.upload.bytes > 0", Message: "backup is empty", Passed: true}}},
			{ID: "verify", Type: "verify", Status: runner.StatusSucceeded, Started: at(62), Finished: at(70), DurationSeconds: 8,
				Outputs: outputs(t, `{"backups": [
					{"name": "2026-11-25/a.age", "url": "s3://bk/app/2026-11-25/a.age", "ok": true, "level": "content"},
					{"name": "b.age", "url": "file:///srv/b/b.age", "ok": true, "level": "digest"},
					{"name": "c.age", "url": "file:///srv/c/c.age", "ok": false, "level": "digest"}]}`)},
			{ID: "tls", Type: "check-tls", Status: runner.StatusFailed, Started: at(71), Finished: at(72), DurationSeconds: 1,
				Outputs: outputs(t, `{"address": "db.internal:5432", "tls": true, "cert": {"not_after": "2027-01-01T00:00:00Z", "chain_days_left": 20},
					"counts": {"critical": 0, "high": 1, "medium": 2, "low": 0, "info": 3}}`)},
			{ID: "gate", Type: "assert-overhead", Status: runner.StatusSucceeded, Started: at(73), Finished: at(89), DurationSeconds: 16,
				Outputs: outputs(t, `{"max": 0.05, "verdict": "inconclusive",
					"p95": {"ratio": 0.031, "ci_low": 0.01, "ci_high": 0.06, "verdict": "inconclusive"},
					"queries": {"select_1": {"p95": {"ratio": 0.02, "ci_low": -0.01, "ci_high": 0.04, "verdict": "pass"}}}}`)},
			{ID: "later", Type: "exec", Status: runner.StatusSkipped},
		},
	}
}

func text(t *testing.T, s *Set) string {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// lint fails on any problem promlint (the linter of promtool check metrics)
// finds.
func lint(t *testing.T, exposition string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(exposition)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// series parses an exposition into its series, "name{l1="v1",...}" with
// the labels sorted as the encoder sorts them, and their values.
func series(t *testing.T, exposition string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		t.Fatalf("%v in\n%s", err, exposition)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// expect checks the wanted series' values and that the unwanted are absent.
func expect(t *testing.T, got map[string]float64, want map[string]float64, absent ...string) {
	t.Helper()
	for k, v := range want {
		k = canonical(k)
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s", k)
		case g != v:
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	for k := range got {
		for _, a := range absent {
			if strings.Contains(k, a) {
				t.Errorf("unexpected %s", k)
			}
		}
	}
}

// canonical sorts the labels of a series written by hand.
func canonical(k string) string {
	name, ls, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
	parts := strings.Split(ls, ",")
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func TestRunMetrics(t *testing.T) {
	out := text(t, Run(fixtureReport(t, runner.StatusFailed), RunOptions{Target: "eu-1"}))
	lint(t, out)
	l := `plan="nightly",target="eu-1"`
	expect(t, series(t, out), map[string]float64{
		`sluice_run_success{` + l + `}`:                                                               0,
		`sluice_run_duration_seconds{` + l + `}`:                                                      90,
		`sluice_run_last_finish_timestamp_seconds{` + l + `}`:                                         unix(at(90)),
		`sluice_run_last_failure_timestamp_seconds{` + l + `}`:                                        unix(at(90)),
		`sluice_run_consecutive_failures{` + l + `}`:                                                  1,
		`sluice_step_success{` + l + `,step="tls",type="check-tls"}`:                                  0,
		`sluice_step_success{` + l + `,step="upload",type="upload"}`:                                  1,
		`sluice_step_duration_seconds{` + l + `,step="upload",type="upload"}`:                         60,
		`sluice_step_input_bytes{` + l + `,step="enc",type="encrypt"}`:                                5000,
		`sluice_step_output_bytes{` + l + `,step="enc",type="encrypt"}`:                               5100,
		`sluice_gate_passed{gate="backup is empty",` + l + `,step="upload"}`:                          1,
		`sluice_backup_last_success_timestamp_seconds{database="app",dest="s3://bk/app",` + l + `}`:   unix(at(61)),
		`sluice_backup_last_success_size_bytes{database="app",dest="s3://bk/app",` + l + `}`:          5100,
		`sluice_verify_last_success_timestamp_seconds{dest="s3://bk/app",level="content",` + l + `}`:  unix(at(70)),
		`sluice_verify_last_success_timestamp_seconds{dest="s3://bk/app",level="digest",` + l + `}`:   unix(at(70)),
		`sluice_verify_last_success_timestamp_seconds{dest="file:///srv/b",level="digest",` + l + `}`: unix(at(70)),
		`sluice_verify_checked_backups{dest="file:///srv/c",` + l + `}`:                               1,
		`sluice_verify_failed_backups{dest="file:///srv/c",` + l + `}`:                                1,
		`sluice_tls_handshake_success{address="db.internal:5432",` + l + `}`:                          1,
		`sluice_tls_cert_expiry_timestamp_seconds{address="db.internal:5432",` + l + `}`:              float64(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix()),
		`sluice_tls_chain_expiry_timestamp_seconds{address="db.internal:5432",` + l + `}`:             unix(at(72)) + 20*86400,
		`sluice_tls_findings{address="db.internal:5432",` + l + `,severity="medium"}`:                 2,
		`sluice_tls_findings{address="db.internal:5432",` + l + `,severity="critical"}`:               0,
		`sluice_overhead_ratio{` + l + `,query="*",stat="p95",step="gate"}`:                           0.031,
		`sluice_overhead_ratio_lower{` + l + `,query="select_1",stat="p95",step="gate"}`:              -0.01,
		`sluice_overhead_ratio_upper{` + l + `,query="select_1",stat="p95",step="gate"}`:              0.04,
		`sluice_overhead_limit_ratio{` + l + `,step="gate"}`:                                          0.05,
		`sluice_overhead_verdict{` + l + `,query="*",stat="*",step="gate",verdict="inconclusive"}`:    1,
		`sluice_overhead_verdict{` + l + `,query="*",stat="*",step="gate",verdict="pass"}`:            0,
		`sluice_overhead_verdict{` + l + `,query="select_1",stat="p95",step="gate",verdict="pass"}`:   1,
		`sluice_overhead_consecutive_not_passing{` + l + `,step="gate"}`:                              1,
	},
		"sluice_run_last_success_timestamp_seconds", // a failed run does not know it
		`step="later"`,                         // skipped
		`dest="file:///srv/b",level="content"`, // verified by digest only
		`dest="file:///srv/c",level=`,          // a failed backup is no verified destination
		"20261126T223400Z", "2026-11-26",       // no run id or date
	)
}

func TestRunMetricsWithoutTarget(t *testing.T) {
	out := text(t, Run(fixtureReport(t, runner.StatusSucceeded), RunOptions{}))
	lint(t, out)
	expect(t, series(t, out), map[string]float64{
		`sluice_run_success{plan="nightly"}`:                        1,
		`sluice_run_consecutive_failures{plan="nightly"}`:           0,
		`sluice_run_last_success_timestamp_seconds{plan="nightly"}`: unix(at(90)),
	}, "target=", "sluice_run_last_failure_timestamp_seconds")
}

func TestDest(t *testing.T) {
	for _, c := range []struct{ url, run, want string }{
		{"file:///srv/backups/2026-11-26/app-R1.dump.zst.age", "R1", "file:///srv/backups"},
		{"file:///srv/backups/app.age", "", "file:///srv/backups"},
		{"s3://bucket/app/R1/x.age", "R1", "s3://bucket/app"},
		{"s3://bucket/2026/11/26/x.age", "", "s3://bucket/"},
		{"s3://KEY:SECRET@bucket/app/x.age?endpoint=http://h:9000", "", "s3://bucket/app"},
		{"file:///srv/v2/app.age", "", "file:///srv/v2"}, // one digit is no date
		{"not a url", "", ""},
	} {
		if got := Dest(c.url, c.run); got != c.want {
			t.Errorf("Dest(%q) = %q, want %q", c.url, got, c.want)
		}
	}
	for _, c := range []struct{ root, want string }{
		{"s3://bucket/app/", "s3://bucket/app"}, {"file:///srv/backups", "file:///srv/backups"}, {"s3://bucket/", "s3://bucket/"},
	} {
		if got := Root(c.root); got != c.want {
			t.Errorf("Root(%q) = %q, want %q", c.root, got, c.want)
		}
	}
}
