package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// latestIntoTarget restores the newest backup under ./backups into a
// database of the test cluster (so the test can look inside it).
const latestIntoTarget = `version: 1
params:
  target: {type: string, required: true, secret: true}
keys:
  backup: {store: dir, path: ./keys/backup}
steps:
  get: {type: download, with: {from: file://./backups, latest: true}}
  open: {type: decrypt, input: get, with: {key: backup}}
  unzip: {type: decompress, input: open}
  load: {type: restore, input: unzip, with: {url: "${{ params.target }}", create: true}}
`

// testForged plays someone who can write the backup folder but holds no
// key: a new, newer backup of their own database, encrypted to the store's
// public recipient, with its sidecar and manifest recomputed, (a) under the
// genuine backup's signature, (b) without any signature, (c) signed with
// their own ssh key. backups verify, sluice restore, the committed
// restore drill and a download-latest restore each refuse it, naming the
// backup and what was checked, and restore nothing; the genuine backup
// still verifies and restores.
func testForged(t *testing.T, c *pg.Cluster) {
	tools := requireTools(t, "age", "zstd", "ssh-keygen")
	pgDump := requirePGTool(t, "pg_dump")
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "--type", "x25519", "keys/backup")
	genuine := backupWithPlan(t, c.DSN(src))
	genuineObj := strings.TrimSuffix(genuine, ".manifest.json")

	// The attacker's database and backup, made with the standard tools and
	// the store's public recipient only.
	evil := pgtest.NewDB(t, c)
	if err := c.Exec(context.Background(), evil, "CREATE TABLE pwned (x int); INSERT INTO pwned VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	pubs, _ := filepath.Glob("keys/backup/k-*.pub")
	if len(pubs) != 1 {
		t.Fatalf("recipients: %v", pubs)
	}
	forgedObj := filepath.Join(filepath.Dir(genuine), "app-zzzz-forged.dump.zst.age")
	script := `set -euo pipefail; "$1" -Fc "$2" | "$3" -q -c | "$4" -R "$5" > "$6"`
	if out, err := bashOutput(script, pgDump, c.DSN(evil), tools["zstd"], tools["age"], pubs[0], forgedObj); err != nil {
		t.Fatalf("forging: %v\n%s", err, out)
	}
	ct, _ := os.ReadFile(forgedObj)
	sum := sha256.Sum256(ct)
	var m map[string]any
	raw, _ := os.ReadFile(genuine)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	created, _ := time.Parse(time.RFC3339Nano, m["created"].(string))
	m["object"], m["run_id"], m["created"] = filepath.Base(forgedObj), "zzzz-forged", created.Add(time.Hour).Format(time.RFC3339Nano)
	m["stored_bytes"], m["digest"] = len(ct), map[string]any{"algorithm": "sha256", "hex": hex.EncodeToString(sum[:])}
	forgedManifest, _ := json.MarshalIndent(m, "", "  ")
	os.WriteFile(forgedObj+".manifest.json", append(forgedManifest, '\n'), 0o644)
	os.WriteFile(forgedObj+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+filepath.Base(forgedObj)+"\n"), 0o644)
	if out, err := bashOutput(`ssh-keygen -q -t ed25519 -N "" -f "$1"`, "attacker"); err != nil {
		t.Fatalf("attacker key: %v\n%s", err, out)
	}

	for _, v := range []struct {
		name  string
		plant func()
		want  string
	}{
		{"GenuineSignatureReused", func() { copyFile(t, genuine+".sig", forgedObj+".manifest.json.sig") },
			"manifest signature app-zzzz-forged.dump.zst.age.manifest.json.sig does not verify against the verification keys of key store"},
		{"NoSignature", func() {},
			"not signed: no signature app-zzzz-forged.dump.zst.age.manifest.json.sig next to its manifest (checked for an sshsig signature of its manifest by the verification keys of key store"},
		{"AttackersKey", func() {
			if out, err := bashOutput(`ssh-keygen -Y sign -q -f attacker -n manifest@sluice.dev "$1"`, forgedObj+".manifest.json"); err != nil {
				t.Fatalf("attacker signing: %v\n%s", err, out)
			}
		}, "is not by the verification keys of key store"},
	} {
		t.Run(v.name, func(t *testing.T) {
			os.Remove(forgedObj + ".manifest.json.sig")
			v.plant()

			r := sluiceCLI(t, "backups", "verify", "backups", "--all", "--key-dir", "keys/backup")
			if r.code != exitStepFailed || !strings.Contains(r.stdout, "FAIL  "+filepath.Base(filepath.Dir(forgedObj))+"/app-zzzz-forged") ||
				!strings.Contains(r.stdout, v.want) || !strings.Contains(r.stdout, "ok    "+filepath.Base(filepath.Dir(genuine))+"/"+filepath.Base(genuineObj)) {
				t.Errorf("backups verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}

			dst := freshName(t, c)
			r = sluiceCLI(t, "restore", forgedObj+".manifest.json", "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
			if r.code == 0 || !strings.Contains(r.stderr, v.want) || !strings.Contains(r.stderr, "app-zzzz-forged.dump.zst.age") {
				t.Errorf("sluice restore: exit %d\n%s", r.code, r.stderr)
			}
			if n := userTables(t, c, dst); n != 0 {
				t.Errorf("sluice restore of the forgery left %d tables", n)
			}

			r = sluiceCLI(t, "run", repoFile(t, "plans/restore-drill.yaml"), "--state-dir", ".sluice")
			if r.code != exitStepFailed || !strings.Contains(r.stderr, "finding the newest backup") || !strings.Contains(r.stderr, v.want) {
				t.Errorf("restore drill: exit %d\n%s", r.code, r.stderr)
			}
			if strings.Contains(r.stdout, "restore     restore     succeeded") {
				t.Errorf("the drill restored something:\n%s", r.stdout)
			}

			os.WriteFile("latest.yaml", []byte(latestIntoTarget), 0o644)
			dst = freshName(t, c)
			r = sluiceCLI(t, "run", "latest.yaml", "--param", "target="+c.DSN(dst), "--state-dir", ".sluice")
			if r.code != exitStepFailed || !strings.Contains(r.stderr, v.want) {
				t.Errorf("download latest: exit %d\n%s", r.code, r.stderr)
			}
			if n := userTables(t, c, dst); n != 0 {
				t.Errorf("download latest of the forgery left %d tables", n)
			}
		})
	}

	t.Run("ObjectSwappedUnderGenuineManifest", func(t *testing.T) {
		testObjectSwapped(t, c, tools, pgDump, evil, pubs[0], genuine, genuineObj)
	})

	// The genuine backup still verifies and restores, by name.
	r := mustSluice(t, "backups", "verify", "backups", filepath.ToSlash(strings.TrimPrefix(genuineObj, "backups/")), "--key-dir", "keys/backup")
	if !strings.Contains(r.stdout, "content level") || !strings.Contains(r.stdout, "signed by s-") {
		t.Errorf("genuine verify: %s", r.stdout)
	}
	dst := freshName(t, c)
	mustSluice(t, "restore", genuine, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
	sameContent(t, c, src, dst)
}

// testObjectSwapped: the attacker keeps the genuine manifest, its
// signature and sidecar, and replaces only the object with their own
// archive, encrypted to the store's public recipient and followed by 64
// MiB of padding (a zstd skippable frame of random bytes, more than the
// pipeline's buffers hold) so that the archive's end reaches pg_restore
// well before the object's end, where the digest check fails. pg_restore commits when its archive ends, so sluice
// must check the digest before a byte reaches it: restored into an
// existing database, nothing of theirs may be committed.
func testObjectSwapped(t *testing.T, c *pg.Cluster, tools map[string]string, pgDump, evil, recipient, genuine, genuineObj string) {
	saved := genuineObj + ".saved"
	copyFile(t, genuineObj, saved)
	t.Cleanup(func() { copyFile(t, saved, genuineObj) })
	script := `set -euo pipefail
{ "$1" -Fc "$2" | "$3" -q -c; printf '\x50\x2a\x4d\x18\x00\x00\x00\x04'; head -c 67108864 /dev/urandom; } | "$4" -R "$5" > "$6"`
	if out, err := bashOutput(script, pgDump, c.DSN(evil), tools["zstd"], tools["age"], recipient, genuineObj); err != nil {
		t.Fatalf("forging: %v\n%s", err, out)
	}
	dst := freshName(t, c)
	if err := c.Exec(context.Background(), "postgres", "CREATE DATABASE "+dst); err != nil {
		t.Fatal(err)
	}
	r := sluiceCLI(t, "restore", genuine, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--state-dir", ".sluice")
	if r.code == 0 || !strings.Contains(r.stderr, "digest mismatch") && !strings.Contains(r.stderr, "larger than the") {
		t.Errorf("sluice restore of a swapped object: exit %d\n%s", r.code, r.stderr)
	}
	if n := userTables(t, c, dst); n != 0 {
		t.Errorf("the swapped object's archive was committed: %d tables in the target", n)
	}
}
