package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// runPlan loads src with the builtin registry and runs it.
func runPlan(t *testing.T, src string, params map[string]any) (*runner.Report, error) {
	t.Helper()
	p, err := runner.Load("test.yaml", []byte(src), Builtin())
	if err != nil {
		t.Fatalf("loading plan: %v", err)
	}
	return runner.Run(context.Background(), p, runner.RunOptions{Params: params, StateDir: t.TempDir()})
}

const copyPlan = `version: 1
name: copy
params:
  from: {type: string, required: true}
  to:   {type: string, required: true}
steps:
  get:  {type: download, with: {from: "${{ params.from }}", allow_unsigned: true}}
  sum:  {type: checksum, input: get}
  put:
    type: upload
    input: sum
    with: {to: "${{ params.to }}", allow_plaintext: true, unsigned: true}
    assert:
      - that: steps.put.bytes == steps.get.bytes
  list:
    type: exec
    needs: [put]
    with: {command: "ls", dir: "${{ params.dir }}"}
  gate:
    type: assert
    with: {message: checking the copy}
    assert:
      - that: steps.put.digest == steps.sum.digest && steps.list.stdout contains ".manifest.json"
        message: the copy has no manifest
`

// TestPipelineCopyThroughRunner runs download -> checksum -> upload, exec
// and assert through the real loader and scheduler, then corrupts the copy
// and checks that copying it again fails and leaves nothing behind.
func TestPipelineCopyThroughRunner(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.bin"), filepath.Join(dir, "out", "copy.bin")
	data := randomData(t, 256<<10)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	plan := strings.Replace(copyPlan, `"${{ params.dir }}"`, filepath.Dir(dst), 1)
	rep, err := runPlan(t, plan, map[string]any{"from": src, "to": "file://" + dst})
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if rep.Status != runner.StatusSucceeded {
		t.Fatalf("run status = %s", rep.Status)
	}
	got, err := os.ReadFile(dst)
	if err != nil || string(got) != string(data) {
		t.Fatalf("copy differs from the source (%v)", err)
	}

	// A flipped bit in the copy must stop a second copy at the end of the
	// stream, before anything is committed.
	got[1000] ^= 0x01
	if err := os.WriteFile(dst, got, 0o600); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again", "copy2.bin")
	plan = strings.Replace(copyPlan, `"${{ params.dir }}"`, dir, 1)
	_, err = runPlan(t, plan, map[string]any{"from": dst, "to": again})
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("run error = %v, want a digest mismatch", err)
	}
	t.Logf("second copy failed as it should: %v", err)
	if entries, _ := os.ReadDir(filepath.Dir(again)); len(entries) != 0 {
		t.Fatalf("a failed copy left %d files behind", len(entries))
	}
}
