package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

// TestRunReportRedacted runs a failing plan that puts a secret param into
// outputs and errors, then searches every file of the run folder for it.
func TestRunReportRedacted(t *testing.T) {
	defer goleak.VerifyNone(t)
	const secret = "hunter2-Sup3rSecret"
	const other = "extra-secret-from-cli"
	state := t.TempDir()
	var logs bytes.Buffer
	rep, err := runPlan(t, context.Background(), `
version: 1
name: redaction
params:
  db:   {type: string, required: true, secret: true}
  dest: {type: string, default: "file:///backups"}
steps:
  show: {type: act, with: {value: "postgres://u:${{ params.db }}@h/app ${{ params.dest }}"}}
  gate:
    type: act
    needs: [show]
    with: {value: "${{ params.db }}"}
    assert: [{that: 'steps.gate.value == "x"', message: value mismatch}]
`, RunOptions{Params: map[string]any{"db": secret, "dest": "file:///" + other}, Secrets: []string{other}, StateDir: state, RunID: "r-1",
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error = %v, want a gate failure without the secret", err)
	}
	if !strings.Contains(err.Error(), `steps.gate.value = "***"`) {
		t.Errorf("error %q does not show the redacted operand", err)
	}
	walkNoSecret(t, state, secret, other)
	if strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "step failed") {
		t.Errorf("log has the secret, or lacks the failure:\n%s", logs.String())
	}

	path := filepath.Join(state, "runs", "r-1", ReportFile)
	read, err := ReadReport(path)
	if err != nil {
		t.Fatalf("ReadReport: %v", err)
	}
	if read.Version != 1 || read.RunID != "r-1" || read.Plan != "redaction" || read.Status != StatusFailed || read.Error == "" {
		t.Errorf("report header: %+v", read)
	}
	if read.Params["db"] != Mask || read.Params["dest"] != "file:///***" {
		t.Errorf("params = %v, want db masked and dest kept", read.Params)
	}
	if v := read.Step("show").Outputs["value"]; v != "postgres://u:***@h/app file:///***" {
		t.Errorf("show.value = %v", v)
	}
	if took, ok := read.Step("show").Outputs["took"].(float64); !ok || took != 0 {
		t.Errorf("a duration output should be seconds, got %#v", read.Step("show").Outputs["took"])
	}
	g := read.Step("gate")
	if g.Status != StatusFailed || len(g.Gates) != 1 || g.Gates[0].Passed || g.Gates[0].File != "plan.yaml" || g.Started.IsZero() || g.Attempts != 1 {
		t.Errorf("gate step: %+v", g)
	}
	if rep.RunID != read.RunID || len(rep.Steps) != len(read.Steps) {
		t.Errorf("returned and written reports differ")
	}
	if id, err := LatestRun(state); err != nil || id != "r-1" {
		t.Errorf("LatestRun = %q, %v", id, err)
	}
}

// walkNoSecret fails when any file under dir contains one of secrets.
func walkNoSecret(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains a secret", path)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking %s: %d files, %v", dir, files, err)
	}
}

func TestReadReportRejectsOtherVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), ReportFile)
	rep := &Report{Version: 2, Started: time.Now()}
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReport(path); err == nil || !strings.Contains(err.Error(), "version 2 is not supported") {
		t.Errorf("ReadReport of version 2: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("report mode: %v, %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".report-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestReportValue(t *testing.T) {
	red := NewRedactor("tok", "98765432")
	type nested struct {
		Name string `json:"name"`
	}
	in := map[string]any{
		"d":  1500 * time.Millisecond,
		"l":  []string{"a-tok", "b"},
		"m":  map[string]string{"k": "tok"},
		"s":  nested{Name: "my tok"},
		"n":  int64(3),
		"ok": true,
		// A secret int param given back, as itself or through JSON.
		"pin":  98765432,
		"pins": []int{98765432, 7},
	}
	got := reportValue(in, red).(map[string]any)
	if got["d"] != 1.5 || got["n"] != int64(3) || got["ok"] != true {
		t.Errorf("scalars: %v", got)
	}
	if l := got["pins"].([]any); got["pin"] != Mask || l[0] != Mask || l[1] != 7.0 {
		t.Errorf("secret numbers: %v %v", got["pin"], l)
	}
	if l := got["l"].([]any); l[0] != "a-***" || l[1] != "b" {
		t.Errorf("list: %v", l)
	}
	if got["m"].(map[string]any)["k"] != Mask || got["s"].(map[string]any)["name"] != "my ***" {
		t.Errorf("map/struct: %v %v", got["m"], got["s"])
	}
}
