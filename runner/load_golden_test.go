package runner

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var updateGolden = flag.Bool("update", false, "rewrite the want files of testdata/invalid")

// TestLoadInvalid loads each testdata/invalid/*.txtar archive's plan.yaml
// and compares the errors with its want file, line for line.
func TestLoadInvalid(t *testing.T) {
	files, err := filepath.Glob("../testdata/invalid/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in ../testdata/invalid: %v", err)
	}
	reg := ltRegistry()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var plan []byte
			wantIdx := -1
			others := false
			for i, f := range ar.Files {
				switch f.Name {
				case "plan.yaml":
					plan = f.Data
				case "want":
					wantIdx = i
				default:
					others = true
				}
			}
			if plan == nil || wantIdx < 0 {
				t.Fatalf("%s: need plan.yaml and want", file)
			}
			var p *Plan
			if others {
				// The plan calls others: load it from a folder with them.
				wd, _ := os.Getwd()
				writeArchive(t, ar)
				p, err = LoadFile("plan.yaml", reg, WithPlansDir("plans"))
				t.Chdir(wd)
			} else {
				p, err = Load("plan.yaml", plan, reg)
			}
			if err == nil {
				t.Fatalf("loaded without error: %+v", p)
			}
			var pe PlanErrors
			if !asPlanErrors(err, &pe) {
				t.Fatalf("error is %T, not PlanErrors: %v", err, err)
			}
			got := err.Error() + "\n"
			if *updateGolden {
				ar.Files[wantIdx].Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := string(ar.Files[wantIdx].Data); got != want {
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

// writeArchive writes ar's files but want into a new folder and makes it
// the working directory.
func writeArchive(t *testing.T, ar *txtar.Archive) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, f := range ar.Files {
		if f.Name == "want" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.Name, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func asPlanErrors(err error, out *PlanErrors) bool {
	pe, ok := err.(PlanErrors)
	if ok {
		*out = pe
	}
	return ok
}

// TestLoadValid loads every testdata/valid/*.yaml plan.
func TestLoadValid(t *testing.T) {
	files, err := filepath.Glob("../testdata/valid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in ../testdata/valid: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := LoadFile(file, ltRegistry()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
