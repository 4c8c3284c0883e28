package runner

import (
	"context"
	"strings"
	"testing"
)

// A keys: entry may take its path from a param or the environment; it is
// resolved once, before any step runs.
func TestRunResolvesKeyPaths(t *testing.T) {
	p, err := Load("plan.yaml", []byte(`
version: 1
params:
  keydir: {type: string, default: ./keys}
keys:
  backup: {path: "${{ params.keydir }}/backup", create: "${{ env.CREATE }}"}
steps:
  a: {type: act}
`), testRegistry)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(context.Background(), p, RunOptions{
		Params: map[string]any{"keydir": "/srv/keys"}, StateDir: t.TempDir(), Environ: []string{"CREATE=true"},
	}, nil)
	if err := r.setup(); err != nil {
		t.Fatal(err)
	}
	got := r.stepContext(context.Background(), p.Steps[0], nil, nil).Keys["backup"]
	if got.Path != "/srv/keys/backup" || got.Store != "dir" || got.Options["create"] != "true" {
		t.Errorf("resolved key entry = %+v", got)
	}
}

func TestLoadRejectsStepsInKeys(t *testing.T) {
	_, err := Load("plan.yaml", []byte(`
version: 1
keys:
  backup: {path: "${{ steps.a.value }}"}
steps:
  a: {type: act}
`), testRegistry)
	if err == nil || !strings.Contains(err.Error(), "plan.yaml:4:18: keys.backup.path: cannot use steps") {
		t.Fatalf("err = %v, want a positioned error about steps in keys", err)
	}
}
