package export

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/steps/keys"
)

// fakeSecretVolume lays out dir the way the kubelet writes a Secret volume
// (its atomic writer): a world-writable folder, the files in a
// timestamped folder, ..data linking to it, and each name a link into
// ..data; files 0440 (defaultMode 0400 with fsGroup).
func fakeSecretVolume(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	stamp := filepath.Join(dir, "..2026_12_01_22_00_00.000000001")
	if err := os.MkdirAll(stamp, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(stamp, name), b, 0o440); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(stamp), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
}

// storeFiles returns the files of a key store folder by name.
func storeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// runInitScript runs the exported init container's script with the pod's
// folders moved under root, and returns the key store it made.
func runInitScript(t *testing.T, manifests, root string) string {
	t.Helper()
	var job batchv1.Job
	for _, d := range docs(manifests) {
		if strings.Contains(d, "kind: Job\n") {
			if err := yaml.Unmarshal([]byte(d), &job); err != nil {
				t.Fatal(err)
			}
		}
	}
	inits := job.Spec.Template.Spec.InitContainers
	if len(inits) != 1 {
		t.Fatalf("%d init containers, want 1", len(inits))
	}
	script := inits[0].Command[2]
	script = strings.ReplaceAll(script, secretsDir, filepath.Join(root, "secrets"))
	script = strings.ReplaceAll(script, "'"+workDir+"/", "'"+filepath.Join(root, "work")+"/")
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("init script: %v\n%s\n%s", err, out, script)
	}
	return filepath.Join(root, "work", "keys", "backup")
}

// TestKeyStoreFromSecretVolume proves the init container's copy: sluice
// refuses a key store straight from a Secret volume (a world-writable
// folder of links), accepts the copy, and the copy of an encrypt-only plan
// holds no identity even when the Secret does, but the signing key its
// upload signs with.
func TestKeyStoreFromSecretVolume(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	if _, _, err := keys.InitDir(store, keys.TypeX25519); err != nil {
		t.Fatal(err)
	}
	files := storeFiles(t, store)

	for _, tc := range []struct {
		plan, secret string
		private      bool
	}{
		{"backup.yaml", "sluice-backup-key-keys-backup", false},
		{"restore-drill.yaml", "sluice-restore-drill-key-keys-backup", true},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			root := t.TempDir()
			// The whole store in the Secret, identities included: the
			// copy decides what the pod gets.
			secret := filepath.Join(root, "secrets", tc.secret)
			fakeSecretVolume(t, secret, files)
			if _, err := keys.OpenDir(secret); err == nil {
				t.Fatal("sluice opened a key store straight from a Secret volume: the copy would not be needed")
			}
			dir := runInitScript(t, exportPlan(t, tc.plan, "", Options{To: Kubernetes}), root)
			d, err := keys.OpenDir(dir)
			if err != nil {
				t.Fatalf("the copied store does not open: %v", err)
			}
			if _, _, err := d.Recipients(); err != nil {
				t.Errorf("recipients of the copy: %v", err)
			}
			_, _, err = d.Identities()
			if tc.private && err != nil {
				t.Errorf("a decrypting plan's copy lacks its identities: %v", err)
			}
			ids, _ := filepath.Glob(filepath.Join(dir, "k-*.key"))
			if !tc.private && (err == nil || len(ids) > 0) {
				t.Errorf("an encrypt-only plan's copy holds identities: %v", ids)
			}
			// The upload signs every manifest: the copy of a backup
			// plan's store holds the private signing key.
			if _, err := d.Signer(); !tc.private && err != nil {
				t.Errorf("an encrypt-only plan's copy cannot sign its manifests: %v", err)
			}
			for name := range storeFiles(t, dir) {
				fi, _ := os.Lstat(filepath.Join(dir, name))
				if fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
					t.Errorf("%s: mode %v, want a regular 0600 file", name, fi.Mode())
				}
			}
		})
	}
}
