package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/pg"
)

// testFaults proves that each failure ends with a clear message, a non-zero
// exit and nothing that looks like a good backup (or a restored database).
func testFaults(t *testing.T, c *pg.Cluster) {
	t.Run("PgDumpKilled", func(t *testing.T) { testPgDumpKilled(t, c) })
	t.Run("LeftoversAfterSIGKILL", func(t *testing.T) { testLeftoversAfterSIGKILL(t, c) })
	t.Run("ReadOnlyDestination", func(t *testing.T) { testReadOnlyDestination(t, c) })
	t.Run("Restore", func(t *testing.T) { testRestoreFaults(t, c) })
}

func testReadOnlyDestination(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	if err := os.Mkdir("backups", 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod("backups", 0o755) })
	if os.Geteuid() == 0 {
		// Root ignores permission bits; an immutable folder refuses even root.
		if out, err := exec.Command("chattr", "+i", "backups").CombinedOutput(); err != nil {
			testenv.SkipUnlessCI(t, "running as root and cannot make a folder immutable (chattr +i: %v: %s): no way to test a read-only destination", err, out)
		}
		abs, _ := filepath.Abs("backups")
		t.Cleanup(func() { exec.Command("chattr", "-i", abs).Run() })
	}
	r := sluiceCLI(t, "run", repoFile(t, "plans/backup.yaml"), "--param", "db="+c.DSN(src), "--state-dir", ".sluice")
	if r.code != exitStepFailed {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitStepFailed, r.stderr)
	}
	if !strings.Contains(r.stderr, "sluice: error:") || !strings.Contains(r.stderr, "backups") ||
		!(strings.Contains(r.stderr, "permission denied") || strings.Contains(r.stderr, "operation not permitted")) {
		t.Errorf("the error does not say the destination cannot be written:\n%s", r.stderr)
	}
	if got := filesUnder(t, "backups"); len(got) > 0 {
		t.Errorf("files left in the destination: %v", got)
	}
	t.Logf("stderr:\n%s", r.stderr)
}

// testRestoreFaults restores damaged copies of one good backup, and the
// good backup with the wrong key store.
func testRestoreFaults(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	mustSluice(t, "keys", "init", "keys/other")
	man := backupWithPlan(t, c.DSN(src))
	raw, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	backupKey := strings.Fields(mustSluice(t, "keys", "list", "keys/backup").stdout)[6]
	otherKey := strings.Fields(mustSluice(t, "keys", "list", "keys/other").stdout)[6]

	tests := []struct {
		name   string
		damage func(obj string)
		keyDir string
		want   []string
	}{
		{"WrongKey", nil, "keys/other", []string{"no key opens this backup", "tried " + otherKey, "it needs " + backupKey}},
		{"Truncated", func(obj string) { truncate(t, obj, -1000) }, "keys/backup", []string{"truncated", "corrupted", m.Object}},
		{"TruncatedHalf", func(obj string) { truncate(t, obj, int(fileSize(t, obj)/2)) }, "keys/backup", []string{"truncated", "corrupted"}},
		{"BitFlipped", func(obj string) { flipByte(t, obj, -5000) }, "keys/backup", []string{"truncated", "corrupted"}},
		{"HeaderBitFlipped", func(obj string) { flipByte(t, obj, 40) }, "keys/backup", []string{"truncated", "corrupted"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A copy of the backup (object, sidecar, manifest, signature)
			// to damage.
			dir := t.TempDir()
			for _, suffix := range []string{"", ".sha256", ".manifest.json", ".manifest.json.sig"} {
				copyFile(t, strings.TrimSuffix(man, ".manifest.json")+suffix, filepath.Join(dir, m.Object+suffix))
			}
			if tc.damage != nil {
				tc.damage(filepath.Join(dir, m.Object))
			}
			dst := freshName(t, c)
			r := sluiceCLI(t, "restore", filepath.Join(dir, m.Object+".manifest.json"), "--to", c.DSN(dst),
				"--key-dir", tc.keyDir, "--verify-keys", "keys/backup", "--create", "--state-dir", ".sluice")
			if r.code != exitStepFailed {
				t.Fatalf("exit %d, want %d\n%s", r.code, exitStepFailed, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if databaseExists(t, c, dst) {
				t.Errorf("the failed restore left the database --create made")
			}
			t.Logf("stderr:\n%s", r.stderr)
		})
	}
}

// truncate cuts a file to size bytes (counted from the end when negative).
func truncate(t *testing.T, path string, size int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(size)
	if n < 0 {
		n += st.Size()
	}
	if n <= 0 || n >= st.Size() {
		t.Fatalf("cannot truncate %s (%d bytes) to %d bytes", path, st.Size(), n)
	}
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
