package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// TestIntegrationParallelBackup runs plans/backup.yaml with jobs 4 on a
// database of eight tables of different sizes, as a user would, and proves
// the backup in parts restores to what the source holds, exactly as the
// serial path's backup does: through sluice restore, the restore drill
// (as a role without superuser) and the standard tools recipe of
// docs/backups.md; that the catalogue verifies and prunes it whole.
func TestIntegrationParallelBackup(t *testing.T) {
	requireTools(t, "age", "zstd", "sha256sum", "ssh-keygen")
	requirePGTool(t, "pg_dump")
	pgRestore := requirePGTool(t, "pg_restore")
	c := pgtest.Cluster(t)
	src := pgtest.NewDB(t, c)
	pgtest.SeedParts(t, c, src, 1)
	want := fingerprint(t, c, src)
	if len(want) != 8 {
		t.Fatalf("source tables %v", want)
	}
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "--type", "x25519", "keys/backup")

	man := backupWithPlan(t, c.DSN(src), "--param", "jobs=4", "--param", "name=parts")
	backup := strings.TrimSuffix(man, ".manifest.json")
	data, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != manifest.FormatParts || len(m.Parts) < 5 || m.Parts[0].Section != "pre-data" || m.Parts[len(m.Parts)-1].Section != "post-data" {
		t.Fatalf("manifest of the parallel backup: format %d, parts %+v", m.FormatVersion, m.Parts)
	}
	wantFiles := []string{filepath.Base(man), filepath.Base(man) + ".sig"}
	for _, p := range m.Parts {
		wantFiles = append(wantFiles, p.Name, p.Name+".sha256")
	}
	slices.Sort(wantFiles)
	if got := filesUnder(t, filepath.Dir(man)); !slices.Equal(got, wantFiles) {
		t.Fatalf("files of the backup in parts: %v, want %v", got, wantFiles)
	}

	// The drill restores the newest backup, this one, as sluice_restore.
	r := mustSluice(t, "run", repoFile(t, "plans/restore-drill.yaml"), "--param", "jobs=3", "--param", "min_tables=8",
		"--param", "min_rows=60000", "--state-dir", ".sluice")
	if fp := pg.FingerprintDigest(want); !strings.Contains(r.stdout, "in "+strconv.Itoa(len(m.Parts))+" parts") || !strings.Contains(r.stdout, "fingerprint "+fp[:16]) {
		t.Errorf("drill: want %d parts restored with the source's fingerprint %s:\n%s", len(m.Parts), fp[:16], r.stdout)
	}

	serial := strings.TrimSuffix(backupWithPlan(t, c.DSN(src), "--param", "name=serial"), ".manifest.json")
	dstParts, dstSerial := freshName(t, c), freshName(t, c)
	mustSluice(t, "restore", backup, "--to", c.DSN(dstParts), "--key-dir", "keys/backup", "--create", "--jobs", "4", "--state-dir", ".sluice")
	mustSluice(t, "restore", serial, "--to", c.DSN(dstSerial), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
	sameContent(t, c, src, dstParts)
	if got, serialGot := fingerprint(t, c, dstParts), fingerprint(t, c, dstSerial); !reflect.DeepEqual(got, serialGot) {
		t.Fatalf("the parallel path restored %v, the serial path %v", got, serialGot)
	}

	r = mustSluice(t, "backups", "verify", "backups", "--all", "--key-dir", "keys/backup")
	if strings.Count(r.stdout, "content level") != 2 {
		t.Errorf("verify: %s", r.stdout)
	}
	var list listJSON
	r = mustSluice(t, "backups", "list", "backups", "--key-dir", "keys/backup", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Backups) != 2 || len(list.Backups[0].Parts) != len(m.Parts) ||
		len(list.Incomplete)+len(list.Other)+len(list.Problems) != 0 {
		t.Fatalf("list: %v\n%s", err, r.stdout)
	}

	t.Run("StandardTools", func(t *testing.T) { testPartsRecipe(t, c, src, backup, pgRestore) })
	t.Run("LeftoversAfterSIGKILL", func(t *testing.T) { testPartsKilled(t, c) })

	// Retention removes the backup in parts whole: manifest, parts, sidecars, records.
	mustSluice(t, "backups", "prune", "backups", "--key-dir", "keys/backup", "--keep-last", "1", "--confirm")
	for _, f := range filesUnder(t, "backups") {
		if strings.HasPrefix(filepath.Base(f), "parts-") {
			t.Errorf("%s left after its backup was pruned", f)
		}
	}
}

// testPartsRecipe runs the recipe of docs/backups.md ("A backup in parts")
// as written, after its first two lines (the backup's name, key and
// database, and the allowed_signers file, which the test gives), then
// checks that it stops on a missing part and on a part swapped for
// another.
func testPartsRecipe(t *testing.T, c *pg.Cluster, src, backup, pgRestore string) {
	doc, err := os.ReadFile(repoFile(t, "docs/backups.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "### A backup in parts")
	j := strings.Index(s[max(i, 0):], "```sh\n")
	if i < 0 || j < 0 {
		t.Fatal("docs/backups.md has no recipe under \"### A backup in parts\"")
	}
	block := s[i+j+len("```sh\n"):]
	block = block[:strings.Index(block, "```")]
	lines := strings.Split(block, "\n")
	if !strings.HasPrefix(lines[0], "B=") || !strings.HasPrefix(lines[1], "sluice keys allowed-signers") {
		t.Fatalf("the recipe's first lines changed: %q", lines[:2])
	}
	script := strings.Join(lines[2:], "\n")

	dir, _ := filepath.Abs(filepath.Dir(backup))
	mustSluice(t, "keys", "allowed-signers", "keys/backup", "--out", filepath.Join(dir, "allowed_signers"))
	keys, _ := filepath.Glob("keys/backup/k-*.key")
	if len(keys) != 1 {
		t.Fatalf("identity files: %v", keys)
	}
	key, _ := filepath.Abs(keys[0])
	recipe := func(dir, db string) (string, error) {
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "B="+filepath.Base(backup), "KEY="+key, "DB="+db,
			"PGHOST="+c.SocketDir, "PGPORT="+strconv.Itoa(c.Port), "PGUSER="+c.User, "PGPASSWORD="+c.Password,
			"PATH="+filepath.Dir(pgRestore)+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dst := freshName(t, c)
	out, err := recipe(dir, dst)
	if err != nil {
		t.Fatalf("the recipe failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, `Good "manifest@sluice.dev" signature`) || strings.Count(out, ": OK") < 5 {
		t.Errorf("the recipe's checks printed:\n%s", out)
	}
	sameContent(t, c, src, dst)

	// A copy of the backup with a part missing, and one with a part
	// swapped for another (with its sidecar), fail before any restore.
	parts, _ := filepath.Glob(filepath.Join(dir, strings.TrimSuffix(filepath.Base(backup), ".age")+".part-*.age"))
	if len(parts) < 4 {
		t.Fatalf("parts %v", parts)
	}
	for _, tc := range []struct{ name, msg string }{{"missing", "No such file"}, {"swapped", ""}, {"sidecar pointed at a kept copy", ""}} {
		cp := t.TempDir()
		for _, f := range append(filesUnder(t, dir), "") {
			if f != "" {
				copyFile(t, filepath.Join(dir, f), filepath.Join(cp, f))
			}
		}
		victim := filepath.Join(cp, filepath.Base(parts[2]))
		if tc.name == "sidecar pointed at a kept copy" {
			// The genuine part kept under another name, its sidecar pointed
			// there, another part's bytes in its place.
			copyFile(t, victim, filepath.Join(cp, ".keep"))
			side, _ := os.ReadFile(victim + ".sha256")
			os.WriteFile(victim+".sha256", []byte(strings.Fields(string(side))[0]+"  .keep\n"), 0o644)
			copyFile(t, filepath.Join(cp, filepath.Base(parts[1])), victim)
		} else {
			os.Remove(victim)
			os.Remove(victim + ".sha256")
		}
		if tc.name == "swapped" {
			other := filepath.Join(cp, filepath.Base(parts[1]))
			copyFile(t, other, victim)
			side, _ := os.ReadFile(other + ".sha256")
			os.WriteFile(victim+".sha256", []byte(strings.Replace(string(side), filepath.Base(other), filepath.Base(victim), 1)), 0o644)
		}
		db := freshName(t, c)
		out, err := recipe(cp, db)
		if err == nil || !strings.Contains(out, tc.msg) || strings.Contains(out, "pg_restore") {
			t.Errorf("recipe with a %s part: %v\n%s", tc.name, err, out)
		}
		if n := userTables(t, c, db); n != 0 {
			t.Errorf("recipe with a %s part restored %d tables", tc.name, n)
		}
	}
}

// testPartsKilled kills a real sluice process with SIGKILL while a backup
// in parts streams: nothing can clean up, so each part that was streaming
// leaves its pending file and no part is visible (the commit comes after
// the last part). backups list shows them as unfinished uploads and no
// backup; prune --incomplete removes them once past the cutoff.
func testPartsKilled(t *testing.T, c *pg.Cluster) {
	db := pgtest.NewDB(t, c)
	pgtest.SeedParts(t, c, db, 4)
	bin, err := exec.LookPath("sluice") // testscript.Main puts it on PATH
	if err != nil {
		t.Fatalf("the sluice program is not on PATH: %v", err)
	}
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "--type", "x25519", "keys/backup")
	cmd := exec.Command(bin, "run", repoFile(t, "plans/backup.yaml"), "--param", "db="+c.DSN(db), "--param", "jobs=2", "--state-dir", ".sluice")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pending := func() []string {
		var out []string
		for _, f := range filesUnder(t, "backups") {
			if strings.Contains(f, ".sluice-tmp-") {
				out = append(out, f)
			}
		}
		return out
	}
	grown := func() bool {
		for _, f := range pending() {
			if st, err := os.Stat(filepath.Join("backups", f)); err == nil && st.Size() >= 64<<10 {
				return true
			}
		}
		return false
	}
	if !stopWhen(t, cmd.Process.Pid, grown) {
		t.Fatalf("sluice ended before a part's pending file grew to 64 KiB: make the tables bigger\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("sluice exit %v, want killed", err)
	}
	left := pending()
	if got := filesUnder(t, "backups"); len(left) == 0 || !slices.Equal(got, left) {
		t.Fatalf("after SIGKILL backups/ holds %v, want only pending files", got)
	}
	var list listJSON
	if err := json.Unmarshal([]byte(mustSluice(t, "backups", "list", "backups", "--key-dir", "keys/backup", "--json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Backups) != 0 || len(list.Uploads) != len(left) {
		t.Errorf("backups list after SIGKILL: backups %v, uploads %v; want none and the %d pending parts", list.Backups, list.Uploads, len(left))
	}
	for _, u := range list.Uploads {
		if _, _, ok := manifest.PartOwner(u.Name); !ok {
			t.Errorf("unfinished upload %s is not a part", u.Name)
		}
	}
	r := mustSluice(t, "backups", "prune", "backups", "--incomplete", "--incomplete-older-than", "0s", "--confirm")
	if got := filesUnder(t, "backups"); len(got) != 0 {
		t.Fatalf("prune --incomplete --incomplete-older-than 0s --confirm left %v\n%s", got, r.stdout)
	}
}
