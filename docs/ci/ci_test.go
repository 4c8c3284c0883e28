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

	"github.com/sluice-dev/sluice/runner/testenv"
	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/steps/keys"
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
	testenv.SkipUnlessCI(t, "actionlint not found: run scripts/install-actionlint.sh")
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

// TestKeyStoreFromSecret runs each CI file's provisioning script, as the CI
// system would, with secrets made the way the files' comments say (sluice
// keys export --role, tar, base64): the backup job gets a store that signs
// but cannot decrypt, the audit (whose drill decrypts) one that decrypts but
// cannot sign, the overhead gate none.
func TestKeyStoreFromSecret(t *testing.T) {
	for _, tool := range []string{"bash", "tar", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found", tool)
		}
	}
	store := filepath.Join(t.TempDir(), "keys")
	d, _, err := keys.InitDir(store, keys.TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddDestination("s3://backups/app", "test"); err != nil {
		t.Fatal(err)
	}
	secret := func(role string) string {
		out := filepath.Join(t.TempDir(), role)
		if _, err := d.Export(out, role); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command("bash", "-c", `tar -C "$1" -cz . | base64 -w0`, "secret", out).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	env := []string{"SLUICE_KEYS_BACKUP=" + secret(keys.RoleBackup), "SLUICE_KEYS_RESTORE=" + secret(keys.RoleRestore)}
	for file, script := range provisioningScripts(t) {
		for _, plan := range []string{"backup", "e20-audit", "overhead"} {
			t.Run(file+"/"+plan, func(t *testing.T) {
				work := t.TempDir()
				cmd := exec.Command("bash", "-e", "-c", script.run)
				cmd.Dir = work
				cmd.Env = append(os.Environ(), append(env, script.planVar+"="+plan)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("provisioning: %v\n%s", err, out)
				}
				got, err := keys.OpenDir(filepath.Join(work, "keys/backup"))
				if plan == "overhead" {
					if err == nil {
						t.Fatal("the overhead gate got a key store")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				_, signErr := got.Signer()
				_, _, decryptErr := got.Identities()
				if plan == "backup" && (signErr != nil || decryptErr == nil) {
					t.Errorf("backup job: sign error %v, decrypt error %v; want it to sign and not to decrypt", signErr, decryptErr)
				}
				if plan == "e20-audit" && (signErr == nil || decryptErr != nil) {
					t.Errorf("audit job: sign error %v, decrypt error %v; want it to decrypt and not to sign", signErr, decryptErr)
				}
				if k, ok, _ := got.Known("s3://backups/app/2024-01-01"); !ok || k.URL != "s3://backups/app" {
					t.Errorf("the copy's ledger does not know the destination: %v", got.Destinations())
				}
			})
		}
	}
}

type provisioning struct{ run, planVar string }

// provisioningScripts returns the script each CI file runs to provision the
// key store, and the variable that names the plan there.
func provisioningScripts(t *testing.T) map[string]provisioning {
	t.Helper()
	var gh struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	var gl struct {
		Job struct {
			BeforeScript []string `yaml:"before_script"`
		} `yaml:"sluice"`
	}
	for f, v := range map[string]any{"github-actions.yml": &gh, "gitlab-ci.yml": &gl} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	out := map[string]provisioning{}
	for _, st := range gh.Jobs["run"].Steps {
		if strings.Contains(st.Run, "SLUICE_KEYS_BACKUP") {
			out["github-actions.yml"] = provisioning{st.Run, "PLAN"}
		}
	}
	for _, line := range gl.Job.BeforeScript {
		if strings.Contains(line, "SLUICE_KEYS_BACKUP") {
			out["gitlab-ci.yml"] = provisioning{line, "SLUICE_PLAN"}
		}
	}
	if len(out) != 2 {
		t.Fatalf("provisioning scripts found: %v; want one in each CI file", out)
	}
	return out
}
