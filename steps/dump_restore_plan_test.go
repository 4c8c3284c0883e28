package steps

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// testDumpRestorePlan runs dump -> restore (ephemeral) through the runner,
// with a gate on a verify output, as a restore drill plan would; with jobs
// above 1 the dump comes in parts, which the restore takes in their phases
// (schema, data, then indexes and constraints).
func testDumpRestorePlan(t *testing.T, src string, jobs int) {
	plan := `version: 1
name: drill
params:
  db: {type: string, required: true, secret: true}
steps:
  dump: {type: dump, with: {url: "${{ params.db }}", format: custom, jobs: ` + strconv.Itoa(jobs) + `}}
  restore:
    type: restore
    input: dump
    with:
      target: ephemeral
      verify:
        customers: SELECT count(*) FROM shop.customers
    assert:
      - that: steps.restore.verify.customers == 3000
        message: customers lost
      - that: steps.restore.tables == 4 && steps.dump.bytes > 0
`
	p, err := runner.Load("drill.yaml", []byte(plan), Builtin())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{
		Params: map[string]any{"db": src}, StateDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	js, _ := json.Marshal(rep)
	if rep.Status != runner.StatusSucceeded {
		t.Fatalf("run status %q: %s", rep.Status, js)
	}
	if strings.Contains(string(js), "dump-test-pw") {
		t.Errorf("report leaks the database password: %s", js)
	}
}
