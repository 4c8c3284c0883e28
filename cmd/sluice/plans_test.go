package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

// realPlans lists the plans written for the real step registry: the
// committed plans under plans/ and the fixtures under testdata/valid/builtin/.
// (testdata/valid/*.yaml use the runner's test step types and are loaded by
// the runner's own TestLoadValid.)
func realPlans(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../plans/*.yaml", "../../testdata/valid/builtin/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			t.Fatalf("no plans match %s", pattern)
		}
		files = append(files, m...)
	}
	return files
}

// planName names a plan's subtest by its path in the repository.
func planName(file string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(file), "../../"), ".yaml")
}

// TestPlansValid loads every committed plan and real-registry fixture with
// steps.Builtin(), as 'sluice validate' does.
func TestPlansValid(t *testing.T) {
	for _, file := range realPlans(t) {
		t.Run(planName(file), func(t *testing.T) {
			if _, err := runner.LoadFile(file, steps.Builtin()); err != nil {
				t.Fatalf("%v", err)
			}
		})
	}
}

// TestPlansValidCLI runs 'sluice validate' on all of them at once: exit 0
// and one "ok" line per plan.
func TestPlansValidCLI(t *testing.T) {
	files := realPlans(t)
	var stdout, stderr bytes.Buffer
	code := sluiceMain(append([]string{"validate"}, files...), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("sluice validate exited %d\nstderr:\n%s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), ": ok\n"); n != len(files) {
		t.Errorf("want %d ok lines, got %d:\n%s", len(files), n, stdout.String())
	}
}

// TestPlansNamed checks that every plan under plans/ resolves by name,
// as 'sluice run NAME' and 'sluice list' use them.
func TestPlansNamed(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := sluiceMain([]string{"list", "--plans-dir", "../../plans"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("sluice list exited %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "(invalid") {
		t.Errorf("sluice list reports an invalid plan:\n%s", stdout.String())
	}
	files, _ := filepath.Glob("../../plans/*.yaml")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("sluice list does not show %s:\n%s", name, stdout.String())
		}
	}
}
