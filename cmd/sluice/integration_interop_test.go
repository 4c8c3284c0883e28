package main

import (
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
	if !strings.Contains(r.stdout, "recipient: age1") || strings.Contains(r.stdout, "age1pq") {
		t.Fatalf("keys init --type x25519: %s", r.stdout)
	}
	man := backupWithPlan(t, c.DSN(src))
	obj, err := filepath.Abs(strings.TrimSuffix(man, ".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	key := findOne(t, "keys/backup", ".key")

	// sha256sum -c runs in the object's folder, as the README shows.
	out := run(t, filepath.Dir(obj), "sha256sum", "-c", filepath.Base(obj)+".sha256")
	if !strings.Contains(out, filepath.Base(obj)+": OK") {
		t.Fatalf("sha256sum -c: %s", out)
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
