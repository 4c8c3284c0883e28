// Package ci holds ready-to-copy CI definitions that run sluice plans on a
// schedule; its tests check them with the tools those CI systems use.
package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// actionlint finds the linter on PATH or where scripts/install-actionlint.sh
// puts it.
func actionlint(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("actionlint"); err == nil {
		return p
	}
	dir := os.Getenv("SLUICE_TOOLS_BIN")
	if dir == "" {
		dir = "/usr/local/lib/sluice-tools/bin"
	}
	if p := filepath.Join(dir, "actionlint"); isExec(p) {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("actionlint not found: scripts/install-test-deps.sh installs it (scripts/install-actionlint.sh)")
	}
	t.Skip("actionlint not found: run scripts/install-actionlint.sh")
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	bin := actionlint(t)
	out, err := exec.Command(bin, "-no-color", "github-actions.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	// The check can fail: the same workflow with an unknown key and an
	// expression on an undefined context is rejected.
	src, _ := os.ReadFile("github-actions.yml")
	broken := strings.Replace(string(src), "timeout-minutes: 120", "timeout-minutes: 120\n    timeout_minutes: 5", 1)
	broken = strings.Replace(broken, "${{ secrets.SLUICE_DB_URL }}", "${{ secret.SLUICE_DB_URL }}", 1)
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte(broken), 0o600)
	if out, err := exec.Command(bin, "-no-color", bad).CombinedOutput(); err == nil {
		t.Errorf("actionlint accepted a broken workflow:\n%s", out)
	}
}

// TestWorkflowsNameRealPlans checks that the scheduled plans the CI files
// name exist and that both publish
// the JUnit file sluice writes.
func TestWorkflowsNameRealPlans(t *testing.T) {
	for _, f := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, plan := range []string{"backup", "overhead", "e20-audit"} {
			if !strings.Contains(string(b), plan) {
				t.Errorf("%s does not schedule %s", f, plan)
			}
			_, err := os.Stat(filepath.Join("..", "..", "plans", plan+".yaml"))
			if err != nil {
				t.Errorf("%s names plan %s, which is not in plans/", f, plan)
			}
		}
		if !regexp.MustCompile(`--report "html=[^"]+,junit=[^"]+`).Match(b) {
			t.Errorf("%s does not render the HTML and JUnit reports", f)
		}
	}
}

func TestGitLabJobHasTheKeysGitLabExpects(t *testing.T) {
	b, err := os.ReadFile("gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Stages    []string          `yaml:"stages"`
		Variables map[string]string `yaml:"variables"`
		Job       struct {
			Stage        string              `yaml:"stage"`
			Image        string              `yaml:"image"`
			Rules        []map[string]string `yaml:"rules"`
			BeforeScript []string            `yaml:"before_script"`
			Script       []string            `yaml:"script"`
			Artifacts    struct {
				When     string   `yaml:"when"`
				ExposeAs string   `yaml:"expose_as"`
				Paths    []string `yaml:"paths"`
				Reports  struct {
					JUnit string `yaml:"junit"`
				} `yaml:"reports"`
			} `yaml:"artifacts"`
		} `yaml:"sluice"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(false)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("gitlab-ci.yml is not YAML: %v", err)
	}
	j := doc.Job
	if len(doc.Stages) == 0 || j.Stage != doc.Stages[0] {
		t.Errorf("job stage %q not among stages %v", j.Stage, doc.Stages)
	}
	if j.Image == "" || len(j.Script) == 0 || len(j.BeforeScript) == 0 {
		t.Error("job lacks image, script or before_script")
	}
	if doc.Variables["SLUICE_PLAN"] == "" {
		t.Error("no default SLUICE_PLAN")
	}
	var schedule bool
	for _, r := range j.Rules {
		schedule = schedule || strings.Contains(r["if"], `$CI_PIPELINE_SOURCE == "schedule"`)
	}
	if !schedule {
		t.Error("job does not run on schedules")
	}
	if j.Artifacts.When != "always" || j.Artifacts.ExposeAs == "" {
		t.Errorf("artifacts must be kept when the plan fails and exposed: %+v", j.Artifacts)
	}
	script := strings.Join(j.Script, "\n")
	if j.Artifacts.Reports.JUnit == "" || !strings.Contains(script, "junit="+j.Artifacts.Reports.JUnit) {
		t.Errorf("artifacts:reports:junit %q is not the file sluice writes (%s)", j.Artifacts.Reports.JUnit, script)
	}
}
