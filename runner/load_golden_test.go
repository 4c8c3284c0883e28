package runner

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
			ar, err := parseTxtar(file)
			if err != nil {
				t.Fatal(err)
			}
			var plan []byte
			wantIdx := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "plan.yaml":
					plan = f.Data
				case "want":
					wantIdx = i
				}
			}
			if plan == nil || wantIdx < 0 {
				t.Fatalf("%s: need plan.yaml and want", file)
			}
			p, err := Load("plan.yaml", plan, reg)
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
				if err := os.WriteFile(file, ar.format(), 0o644); err != nil {
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

// txtarchive is a txtar archive (golang.org/x/tools/txtar is not a
// dependency of sluice, and the format is tiny).
type txtarchive struct {
	Comment []byte
	Files   []txtfile
}

type txtfile struct {
	Name string
	Data []byte
}

func parseTxtar(path string) (*txtarchive, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ar := &txtarchive{}
	cur := &ar.Comment
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "-- "); ok && strings.HasSuffix(name, " --") {
			ar.Files = append(ar.Files, txtfile{Name: strings.TrimSuffix(name, " --")})
			cur = &ar.Files[len(ar.Files)-1].Data
			continue
		}
		*cur = append(*cur, line...)
	}
	return ar, nil
}

func (ar *txtarchive) format() []byte {
	out := append([]byte(nil), ar.Comment...)
	for _, f := range ar.Files {
		out = append(out, "-- "+f.Name+" --\n"...)
		out = append(out, f.Data...)
	}
	return out
}
