package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// TestIntegrationRestoreAttacks tries, as someone who can write the backup
// folder would, to run code on the machine or the database server through
// a restore. Every payload would create a file /tmp/pwned-...; the test
// fails when one does.
func TestIntegrationRestoreAttacks(t *testing.T) {
	requireTools(t, "age", "zstd")
	requirePGTool(t, "pg_dump")
	requirePGTool(t, "pg_restore")
	requirePGTool(t, "psql")
	c := pgtest.Cluster(t)
	t.Run("PlainBackslashCommands", func(t *testing.T) { testPlainBackslash(t, c) })
	t.Run("GenuinePlainRestores", func(t *testing.T) { testGenuinePlain(t, c) })
	t.Run("DrillCheckConstraintProgram", func(t *testing.T) { testDrillProgram(t, c) })
}

// pwnedPath returns a file name that no one else uses and that must never
// exist, removing it when the test ends.
func pwnedPath(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	p := "/tmp/pwned-" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = os.Remove(p) })
	return p
}

func assertNotPwned(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("the payload ran: %s exists", path)
	}
}

// forgeBackup writes a backup of payload the way someone with write access
// to the folder and the store's public recipient can: sluice's own pipeline
// over a file (zstd, age, sha256), then the manifest edited to say it holds
// a dump of the given format. It returns the manifest's path.
func forgeBackup(t *testing.T, name string, payload []byte, format string) string {
	t.Helper()
	in := filepath.Join("forge", name+".in")
	if err := os.MkdirAll("forge", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	plan := `version: 1
keys:
  backup: {store: dir, path: ./keys/backup}
steps:
  read: {type: download, with: {from: "` + in + `", allow_unsigned: true}}
  compress: {type: compress, input: read}
  encrypt: {type: encrypt, input: compress, with: {key: backup}}
  checksum: {type: checksum, input: encrypt}
  upload: {type: upload, input: checksum, with: {to: "forged/` + name + `.dump.zst.age"}}
`
	if err := os.WriteFile("forge.yaml", []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSluice(t, "run", "forge.yaml", "--state-dir", ".sluice")
	man := filepath.Join("forged", name+".dump.zst.age.manifest.json")
	var m map[string]any
	data, err := os.ReadFile(man)
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	src := m["source"].(map[string]any)
	src["type"], src["format"], src["engine"] = "dump", format, "postgresql"
	m["stages"].([]any)[0].(map[string]any)["type"] = "dump"
	if data, err = json.MarshalIndent(m, "", "  "); err == nil {
		err = os.WriteFile(man, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The edited manifest no longer matches its signature, and restore
	// would refuse it there (integration_forged_test.go). Sign it again with
	// the store's key, as if the signing key had leaked too: the payload
	// must still not run.
	resignManifest(t, "keys/backup", man)
	return man
}

// resignManifest signs the manifest at path with the store's signing key.
func resignManifest(t *testing.T, store, path string) {
	t.Helper()
	d, err := keys.OpenDir(store)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Signer()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(data, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".sig", sig, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testPlainBackslash restores forged plain-format backups whose SQL holds
// psql backslash commands, among them a copy of pg_dump's own \restrict and
// \unrestrict lines with the attacker's key. psql never runs one.
func testPlainBackslash(t *testing.T, c *pg.Cluster) {
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	for _, tt := range []struct{ name, sql string }{
		{"shell", "CREATE TABLE pwn (id int);\n\\! touch PWNED\nINSERT INTO pwn VALUES (1);\n"},
		{"after-sql", "CREATE TABLE pwn (id int); \\! touch PWNED\n"},
		{"own-restrict-key", "--\n-- PostgreSQL database dump\n--\n\n\\restrict attackerkey1\n\nCREATE TABLE pwn (id int);\n\\unrestrict attackerkey1\n\\! touch PWNED\n"},
		{"output-pipe", "\\o |touch PWNED\nSELECT 1;\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pwned := pwnedPath(t)
			sql := strings.ReplaceAll(tt.sql, "PWNED", pwned) + "\n--\n-- PostgreSQL database dump complete\n--\n"
			man := forgeBackup(t, tt.name, []byte(sql), "plain")
			dst := freshName(t, c)
			r := sluiceCLI(t, "restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
			assertNotPwned(t, pwned)
			if r.code != exitStepFailed || !strings.Contains(r.stderr, "backslash commands are restricted") {
				t.Errorf("restore: exit %d, want %d with psql's refusal\n%s", r.code, exitStepFailed, r.stderr)
			}
			if n := userTables(t, c, dst); n != 0 {
				t.Errorf("the refused restore left %d tables", n)
			}
		})
	}
}

// testGenuinePlain is the control for testPlainBackslash: a plain-format
// backup made by pg_dump (which writes its own \restrict and \unrestrict
// lines) restores under sluice's restriction with all its rows.
func testGenuinePlain(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	plan := `version: 1
params:
  db: {type: string, required: true, secret: true}
keys:
  backup: {store: dir, path: ./keys/backup}
steps:
  dump: {type: dump, with: {url: "${{ params.db }}", format: plain}}
  compress: {type: compress, input: dump}
  encrypt: {type: encrypt, input: compress, with: {key: backup}}
  checksum: {type: checksum, input: encrypt}
  upload: {type: upload, input: checksum, with: {to: "backups/app.sql.zst.age"}}
`
	if err := os.WriteFile("plain.yaml", []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSluice(t, "run", "plain.yaml", "--param", "db="+c.DSN(src), "--state-dir", ".sluice")
	dst := freshName(t, c)
	mustSluice(t, "restore", "backups/app.sql.zst.age.manifest.json", "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
	sameContent(t, c, src, dst)
}

// evilSQL makes a database whose dump runs a program when it is restored:
// a CHECK constraint calls a function that runs COPY ... TO PROGRAM for
// each row loaded. The function is harmless while the rows are inserted
// here and replaced afterwards (replacing a function does not recheck
// constraints), as an attacker who controls the source could do.
const evilSQL = `
CREATE FUNCTION public.check_row(id int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN true; END $$;
CREATE TABLE public.accounts (id int PRIMARY KEY CHECK (public.check_row(id)), name text);
INSERT INTO public.accounts SELECT g, 'account ' || g FROM generate_series(1, 50) g;
CREATE OR REPLACE FUNCTION public.check_row(id int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'COPY (SELECT 1) TO PROGRAM ' || quote_literal('touch PWNED');
  RETURN true;
END $$;
`

// testDrillProgram backs up such a database with plans/backup.yaml (a
// genuine backup of a hostile source: storage and signatures cannot tell)
// and runs plans/restore-drill.yaml on it. The drill restores as a role
// without superuser, so the server refuses COPY TO PROGRAM and the drill
// fails; the program never runs.
func testDrillProgram(t *testing.T, c *pg.Cluster) {
	pwned := pwnedPath(t)
	src := pgtest.NewDB(t, c)
	if err := c.Exec(context.Background(), src, strings.ReplaceAll(evilSQL, "PWNED", pwned)); err != nil {
		t.Fatal(err)
	}
	assertNotPwned(t, pwned)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	backupWithPlan(t, c.DSN(src))
	r := sluiceCLI(t, "run", repoFile(t, "plans/restore-drill.yaml"), "--state-dir", ".sluice")
	assertNotPwned(t, pwned)
	if r.code != exitStepFailed || !strings.Contains(r.stderr, "ERROR: must be superuser or have privileges of the pg_execute_server_program role to COPY to or from an external program") {
		t.Errorf("drill: exit %d, want %d with the server's refusal\n%s", r.code, exitStepFailed, r.stderr)
	}
}
