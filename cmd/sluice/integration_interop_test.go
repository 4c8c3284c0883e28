package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// testStandardTools proves a sluice backup made with an X25519 key opens
// without sluice: age, zstd and pg_restore restore it, and sha256sum accepts
// its sidecar.
func testStandardTools(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	r := mustSluice(t, "keys", "init", "--type", "x25519", "keys/backup")
	if !strings.Contains(r.stdout, "(x25519, active)") {
		t.Fatalf("keys init --type x25519: %s", r.stdout)
	}
	if pubs, _ := filepath.Glob("keys/backup/k-*.pub"); len(pubs) != 1 {
		t.Fatalf("recipient files: %v", pubs)
	} else if pub, _ := os.ReadFile(pubs[0]); !bytes.HasPrefix(pub, []byte("age1")) || bytes.HasPrefix(pub, []byte("age1pq1")) {
		t.Fatalf("keys init --type x25519 wrote recipient %.20s...", pub)
	}
	man := backupWithPlan(t, c.DSN(src))
	obj, err := filepath.Abs(strings.TrimSuffix(man, ".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := filepath.Glob("keys/backup/k-*.key")
	if len(keys) != 1 {
		t.Fatalf("identity files: %v", keys)
	}
	key, _ := filepath.Abs(keys[0])

	// The recipe's checks (docs/backups.md), in the object's folder: the
	// manifest's signature with ssh-keygen and the store's allowed_signers
	// file, then the file's own SHA-256 against the digest the signed
	// manifest records.
	requireTools(t, "ssh-keygen")
	allowed, _ := filepath.Abs("allowed_signers")
	mustSluice(t, "keys", "allowed-signers", "keys/backup", "--out", allowed)
	check := `set -euo pipefail
ssh-keygen -Y verify -f "$1" -I sluice -n manifest@sluice.dev -s "$2.manifest.json.sig" < "$2.manifest.json"
sum=$(sha256sum "$2" | cut -d' ' -f1)
grep -qF "\"hex\": \"$sum\"" "$2.manifest.json" && echo "digest: OK"`
	out := run(t, filepath.Dir(obj), "bash", "-c", check, "check", allowed, filepath.Base(obj))
	if !strings.Contains(out, `Good "manifest@sluice.dev" signature for sluice with ED25519 key SHA256:`) || !strings.Contains(out, "digest: OK") {
		t.Fatalf("signature and digest checks: %s", out)
	}
	// Someone who can write the folder keeps the genuine object under
	// another name, points the sidecar at it and puts their own bytes in
	// the object's place: sha256sum -c of the sidecar said OK (the recipe
	// used it); hashing the object itself does not.
	swapped := filepath.Join(t.TempDir(), filepath.Base(obj))
	for _, suffix := range []string{".manifest.json", ".manifest.json.sig"} {
		copyFile(t, obj+suffix, swapped+suffix)
	}
	copyFile(t, obj, filepath.Join(filepath.Dir(swapped), ".keep"))
	genuineSum := strings.Fields(run(t, filepath.Dir(obj), "sha256sum", filepath.Base(obj)))[0]
	os.WriteFile(swapped+".sha256", []byte(genuineSum+"  .keep\n"), 0o644)
	os.WriteFile(swapped, []byte("age-encryption.org/v1\nthe attacker's archive\n"), 0o644)
	if out, err := bashOutput(`cd "$(dirname "$2")" && `+check, allowed, swapped); err == nil || strings.Contains(out, "digest: OK") {
		t.Fatalf("the by-hand check accepted a swapped object: %v\n%s", err, out)
	}
	// A changed manifest fails the same check.
	forged := filepath.Join(t.TempDir(), filepath.Base(obj))
	for _, suffix := range []string{"", ".sha256", ".manifest.json.sig"} {
		copyFile(t, obj+suffix, forged+suffix)
	}
	data, _ := os.ReadFile(obj + ".manifest.json")
	os.WriteFile(forged+".manifest.json", bytes.Replace(data, []byte(`"plan": "backup"`), []byte(`"plan": "backuq"`), 1), 0o644)
	if out, err := bashOutput(`cd "$(dirname "$2")" && `+check, allowed, forged); err == nil {
		t.Fatalf("the by-hand check accepted a changed manifest: %s", out)
	} else if !strings.Contains(out, "verification failed") && !strings.Contains(out, "Signature verification failed") {
		t.Errorf("ssh-keygen did not refuse the changed manifest: %s", out)
	}

	dst := pgtest.NewDB(t, c)
	pgRestore := requirePGTool(t, "pg_restore")
	// The README's recipe; --no-owner because the test cluster has no
	// source roles to give objects to (they are all postgres here anyway).
	script := `set -euo pipefail; age -d -i "$1" "$2" | zstd -d | "$3" --no-owner --single-transaction --exit-on-error -d "$4"`
	run(t, ".", "bash", "-c", script, "recipe", key, obj, pgRestore, c.DSN(dst))
	sameContent(t, c, src, dst)

	// The same recipe fails on a corrupted copy instead of restoring part of it.
	bad := filepath.Join(t.TempDir(), "bad.age")
	copyFile(t, obj, bad)
	flipByte(t, bad, -100)
	cmdOut, err := bashOutput(`set -euo pipefail; age -d -i "$1" "$2" | zstd -d > /dev/null`, key, bad)
	if err == nil {
		t.Fatalf("age opened a bit-flipped backup: %s", cmdOut)
	}
}
