package metrics

import (
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// TestRunMetricsNested reads the facts of backups made inside plans a step
// ran for each item (plans/backup-many.yaml), of a stream fanned out by
// for_each, and of a gate inside a called plan (plans/e20-audit.yaml), as
// it reads those of the run's own steps.
func TestRunMetricsNested(t *testing.T) {
	backup := func(db string, end int) *runner.Report {
		return &runner.Report{Plan: "backup", Steps: []runner.StepReport{
			{ID: "dump", Type: "dump", Kind: runner.KindSource, Status: runner.StatusSucceeded, Outputs: outputs(t, `{"database": "`+db+`"}`)},
			{ID: "upload", Type: "upload", Kind: runner.KindSink, Input: "dump", Status: runner.StatusSucceeded, Finished: at(end),
				Outputs: outputs(t, `{"bytes": 700, "url": "file:///srv/b/2026-11-26/`+db+`-R1.dump.zst.age"}`)},
		}}
	}
	rep := &runner.Report{
		Version: runner.ReportVersion, RunID: "R1", Plan: "many", Finished: at(90), Status: runner.StatusSucceeded,
		Steps: []runner.StepReport{
			{ID: "backup", Type: "plan", Kind: runner.KindAction, Status: runner.StatusSucceeded, Items: []runner.StepReport{
				{ID: "backup", Key: "crm", Status: runner.StatusSucceeded, Run: backup("crm", 30)},
				{ID: "backup", Key: "shop", Status: runner.StatusSucceeded, Run: backup("shop", 40)},
			}},
			{ID: "src", Type: "dump", Kind: runner.KindSource, Status: runner.StatusSucceeded, Items: []runner.StepReport{
				{ID: "src", Type: "dump", Key: "0", Status: runner.StatusSucceeded, Outputs: outputs(t, `{"database": "hr"}`)},
				{ID: "src", Type: "dump", Key: "1", Status: runner.StatusSucceeded, Outputs: outputs(t, `{"database": "wiki"}`)},
			}},
			{ID: "up", Type: "upload", Kind: runner.KindSink, Input: "src", Status: runner.StatusFailed, Items: []runner.StepReport{
				{ID: "up", Type: "upload", Key: "0", Input: "src", Status: runner.StatusFailed},
				{ID: "up", Type: "upload", Key: "1", Input: "src", Status: runner.StatusSucceeded, Finished: at(50), Outputs: outputs(t, `{"bytes": 9, "url": "s3://bk/x/wiki.age"}`)},
			}},
			{ID: "perf", Type: "plan", Kind: runner.KindAction, Status: runner.StatusSucceeded, Run: &runner.Report{Plan: "overhead", Steps: []runner.StepReport{
				{ID: "overhead", Type: "assert-overhead", Status: runner.StatusSucceeded, Outputs: outputs(t, `{"max": 0.05, "verdict": "pass",
					"p95": {"ratio": 0.01, "ci_low": 0.0, "ci_high": 0.02, "verdict": "pass"}}`)},
			}}},
		},
	}
	out := text(t, Run(rep, RunOptions{}))
	lint(t, out)
	l := `plan="many"`
	expect(t, series(t, out), map[string]float64{
		`sluice_backup_last_success_timestamp_seconds{database="crm",dest="file:///srv/b",` + l + `}`:  unix(at(30)),
		`sluice_backup_last_success_timestamp_seconds{database="shop",dest="file:///srv/b",` + l + `}`: unix(at(40)),
		`sluice_backup_last_success_size_bytes{database="shop",dest="file:///srv/b",` + l + `}`:        700,
		`sluice_backup_last_success_timestamp_seconds{database="wiki",dest="s3://bk/x",` + l + `}`:     unix(at(50)),
		`sluice_overhead_ratio{` + l + `,query="*",stat="p95",step="perf/overhead"}`:                   0.01,
		`sluice_overhead_consecutive_not_passing{` + l + `,step="perf/overhead"}`:                      0,
	}, `database="hr"`)
}
