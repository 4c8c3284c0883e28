package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

// runFiles writes files into a new working directory and runs plan.yaml,
// which calls the others.
func runFiles(t *testing.T, files map[string]string, opts RunOptions) (*Report, error) {
	t.Helper()
	events.reset()
	t.Chdir(t.TempDir())
	if err := os.Mkdir("out", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := LoadFile("plan.yaml", testRegistry, WithPlansDir("plans"))
	if err != nil {
		t.Fatalf("loading: %v", err)
	}
	if opts.StateDir == "" {
		opts.StateDir = ".sluice"
	}
	if opts.Environ == nil {
		opts.Environ = []string{"MODE=test"}
	}
	return Run(context.Background(), p, opts)
}

const childPlan = `version: 1
params:
  name:  {type: string, default: app}
  size:  {type: int, default: 1000}
  token: {type: string, default: ""}
  hidden: {type: string, secret: true, default: "callee-secret-default"}
outputs:
  path: steps.sink.path
  bytes: steps.sink.bytes
  echo: '"token " + params.token + " " + params.hidden'
steps:
  note: {type: act, with: {value: "${{ params.token }}/${{ params.hidden }}", log: true}}
  src:  {type: gen, with: {size: "${{ params.size }}"}}
  sink:
    type: file
    input: src
    with: {path: "out/${{ params.name }}.bin"}
    assert: [{that: steps.sink.bytes > 100, message: too small}]
`

// TestRunPlanStep runs a plan as one step: its params come from the call,
// its outputs: become the step's outputs, its report nests under the step,
// its folder is inside the caller's, and secrets stay secret both ways.
func TestRunPlanStep(t *testing.T) {
	defer goleak.VerifyNone(t)
	var logs bytes.Buffer
	rep, err := runFiles(t, map[string]string{
		"plans/child.yaml": childPlan,
		"plan.yaml": `version: 1
params:
  pass: {type: string, secret: true, default: "caller-secret-1"}
steps:
  backup:
    type: plan
    with:
      file: plans/child.yaml
      params: {name: shop, size: 5000, token: "${{ params.pass }}"}
  check:
    type: act
    assert:
      - steps.backup.outputs.bytes == 5000
      - steps.backup.outputs.path == "out/shop.bin"
      - all(steps.backup.gates, {.passed}) && len(steps.backup.gates) == 1
`,
	}, RunOptions{Secrets: []string{"caller-secret-1"}, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(logs.String(), "the value is ***/***") {
		t.Errorf("the called plan's step did not log its masked value:\n%s", logs.String())
	}
	if b, err := os.ReadFile("out/shop.bin"); err != nil || len(b) != 5000 {
		t.Fatalf("the called plan's sink: %d bytes, %v", len(b), err)
	}
	for _, g := range rep.Step("check").Gates {
		if !g.Passed {
			t.Errorf("gate %s: %s", g.Expr, g.Operands)
		}
	}
	step := rep.Step("backup")
	if step.Run == nil || step.Run.Plan != "child" || len(step.Run.Steps) != 3 || step.Run.Steps[2].ID != "sink" {
		t.Fatalf("nested report: %+v", step.Run)
	}
	if step.Run.RunID != rep.RunID || step.Run.Params["name"] != "shop" || step.Run.Outputs["bytes"] != int64(5000) {
		t.Errorf("nested run id %s, params %v, outputs %v", step.Run.RunID, step.Run.Params, step.Run.Outputs)
	}
	nested := filepath.Join(RunDir(".sluice", rep.RunID), "backup", ReportFile)
	if _, err := ReadReport(nested); err != nil {
		t.Errorf("the called run's report in the caller's folder: %v", err)
	}
	// The caller's secret passed to a param that is not secret, and the
	// callee's own secret default, are masked in both reports.
	all, _ := json.Marshal(rep)
	all = append(all, logs.Bytes()...)
	files, _ := filepath.Glob(filepath.Join(RunDir(".sluice", rep.RunID), "*", ReportFile))
	for _, f := range append(files, filepath.Join(RunDir(".sluice", rep.RunID), ReportFile)) {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	for _, secret := range []string{"caller-secret-1", "callee-secret-default"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("%s appears in a report", secret)
		}
	}
	if echo, _ := step.Outputs["outputs"].(map[string]any)["echo"].(string); echo != "token *** ***" {
		t.Errorf("echo output %q, want both secrets masked", echo)
	}
}

// TestRunPlanStepFailure: a gate failing in the called plan fails the
// calling step with the called plan's file and step in the message, still
// a *GateError to callers (exit code 4), and the outputs are kept.
func TestRunPlanStepFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runFiles(t, map[string]string{
		"child.yaml": childPlan,
		"plan.yaml": `version: 1
steps:
  backup: {type: plan, continue_on_error: true, with: {file: child.yaml, params: {size: 10}}}
  report: {type: act, needs: [backup], when: steps.backup.status == "failed", with: {value: "${{ steps.backup.gates[0].passed }}"}}
  fail: {type: plan, needs: [report], with: {file: child.yaml, params: {size: 20}}}
`,
	}, RunOptions{})
	var ge *GateError
	if !errors.As(err, &ge) || ge.Step != "sink" {
		t.Fatalf("error = %v, want the called plan's gate", err)
	}
	want := `step "fail": plan child.yaml: step "sink": assertion failed: steps.sink.bytes > 100: steps.sink.bytes = 20 (too small)`
	if err.Error() != want {
		t.Errorf("error =\n %s\nwant\n %s", err, want)
	}
	if got := rep.Step("report").Outputs["value"]; got != "false" {
		t.Errorf("report saw gates[0].passed = %v, want false", got)
	}
	if rep.Step("backup").Run.Status != StatusFailed || rep.Step("backup").Run.Steps[2].Status != StatusFailed {
		t.Errorf("nested report: %+v", rep.Step("backup").Run)
	}
	if _, err := os.Stat("out/app.bin"); err == nil {
		t.Errorf("the failed called plan committed its sink")
	}
}

// TestRunPlanStepForEach backs up three "databases" through one plan step:
// one item's called plan fails its gate; the others' sinks commit, the
// failed one's roll back, and each item's run is nested under the step.
func TestRunPlanStepForEach(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runFiles(t, map[string]string{
		"plans/child.yaml": childPlan,
		"plan.yaml": `version: 1
params:
  dbs: {type: map, default: {shop: 3000, crm: 7, hr: 4000}}
outputs:
  paths: map(steps.backup.each, {.outputs.path ?? ""})
steps:
  backup:
    type: plan
    for_each: params.dbs
    with:
      file: child
      params: {name: "${{ each.key }}", size: "${{ each.value }}"}
`,
	}, RunOptions{})
	var ie *ItemsError
	if !errors.As(err, &ie) || len(ie.Items) != 1 || ie.Items[0].Key != "crm" {
		t.Fatalf("error = %v, want crm's failure", err)
	}
	var ge *GateError
	if !errors.As(err, &ge) {
		t.Errorf("error %v does not carry the gate failure", err)
	}
	for name, size := range map[string]int{"shop": 3000, "hr": 4000} {
		if b, err := os.ReadFile("out/" + name + ".bin"); err != nil || len(b) != size {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
	if _, err := os.Stat("out/crm.bin"); err == nil {
		t.Errorf("the failed item committed")
	}
	step := rep.Step("backup")
	if len(step.Items) != 3 || step.Items[0].Key != "crm" || step.Items[0].Run == nil || step.Items[2].Run.Params["name"] != "shop" {
		t.Fatalf("items: %+v", step.Items)
	}
	for _, k := range []string{"crm", "hr", "shop"} {
		if _, err := ReadReport(filepath.Join(RunDir(".sluice", rep.RunID), "backup", k, ReportFile)); err != nil {
			t.Errorf("item %s's run folder: %v", k, err)
		}
	}
	paths, _ := rep.Outputs["paths"].([]any)
	if len(paths) != 3 || paths[1] != "out/hr.bin" {
		t.Errorf("plan outputs %v", rep.Outputs)
	}
}
