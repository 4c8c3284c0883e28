package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSuggestedGitignoreHidesKeysAndRuns checks the .gitignore
// docs/backups.md suggests, and the repository's own, with git itself: a key store's
// identity and a run folder's report are ignored.
func TestSuggestedGitignoreHidesKeysAndRuns(t *testing.T) {
	requireTools(t, "git")
	readme, err := os.ReadFile("../../docs/backups.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```gitignore\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("docs/backups.md suggests no .gitignore (a ```gitignore block)")
	}
	own, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	for name, ignore := range map[string][]byte{"docs/backups.md": block[1], ".gitignore": own} {
		t.Run(name, func(t *testing.T) {
			repo := t.TempDir()
			run(t, repo, "git", "init", "-q")
			os.WriteFile(filepath.Join(repo, ".gitignore"), ignore, 0o644)
			paths := []string{"keys/backup/k-0123456789abcdef.key", "keys/backup/s-0123456789abcdef.key", ".sluice/runs/r1/report.json", "plans/backup.yaml"}
			for _, p := range paths {
				os.MkdirAll(filepath.Join(repo, filepath.Dir(p)), 0o755)
				os.WriteFile(filepath.Join(repo, p), []byte("x"), 0o600)
			}
			cmd := exec.Command("git", append([]string{"check-ignore"}, paths...)...)
			cmd.Dir = repo
			out, _ := cmd.Output() // exits 1 when some path is not ignored
			got := strings.Fields(string(out))
			want := paths[:3]
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s ignores %v; want exactly %v (plans stay committed)", name, got, want)
			}
		})
	}
}
