package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
)

const rotateBackupPlan = `version: 1
keys:
  backup: {store: dir, path: ./keys/backup}
steps:
  read: {type: download, with: {from: data.bin, allow_unsigned: true}}
  encrypt: {type: encrypt, input: read, with: {key: backup}}
  sum: {type: checksum, input: encrypt}
  write: {type: upload, input: sum, with: {to: "file://./backups/${{ run.id }}/data.bin.age"}}
`

func sluiceRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := sluiceMain(args, &out, &errb)
	return out.String(), errb.String(), code
}

func activeKeyID(t *testing.T) string {
	t.Helper()
	out, errs, code := sluiceRun(t, "keys", "show", "keys/backup")
	if code != 0 {
		t.Fatalf("keys show: %s", errs)
	}
	var k struct{ ID string }
	json.Unmarshal([]byte(out), &k)
	return k.ID
}

// TestKeysRotateDestroy walks the key registry: a backup on the first key
// (its upload records the destination in the ledger), a rotation pointed
// at an empty folder (it warns, and the committed plan's gate fails on the
// destination it did not check), keys list counting backups per key,
// destroy refused while --dest misses a known destination and while the
// backup needs the retired key (naming it), the committed rotate-key plan
// moving the backup from the known destination, then destroy succeeding
// and age 1.3 opening the backup with the new key.
func TestKeysRotateDestroy(t *testing.T) {
	repo, _ := filepath.Abs("../..")
	t.Chdir(t.TempDir())
	os.WriteFile("plan.yaml", []byte(rotateBackupPlan), 0o644)
	os.WriteFile("data.bin", []byte("a backup of sorts\n"), 0o644)
	if _, errs, code := sluiceRun(t, "keys", "init", "--type", "x25519", "keys/backup"); code != 0 {
		t.Fatal(errs)
	}
	first := activeKeyID(t)
	if _, errs, code := sluiceRun(t, "run", "plan.yaml"); code != 0 {
		t.Fatal(errs)
	}
	plan := filepath.Join(repo, "plans", "rotate-key.yaml")
	// Rotate, moving nothing (an empty destination): the rotation happens,
	// with warnings, and the plan's gate fails on the unchecked destination.
	_, errs, code := sluiceRun(t, "run", plan, "--param", "max_age=0s", "--param", "dest=file://./empty")
	if code != exitGateFailed || !strings.Contains(errs, "no backups under file://") || !strings.Contains(errs, "which rewrap.dest does not cover") ||
		!strings.Contains(errs, "len(steps.rotate.unchecked_destinations) == 0") {
		t.Fatalf("rotation to an empty folder: exit %d\n%s", code, errs)
	}
	second := activeKeyID(t)
	if second == first {
		t.Fatal("the plan did not rotate")
	}
	out, _, _ := sluiceRun(t, "keys", "list", "--dest", "file://./backups", "keys/backup")
	if !strings.Contains(out, "BACKUPS") || !regexpLine(out, first, "retired", "1") {
		t.Errorf("keys list --dest:\n%s", out)
	}
	// Just retired: a backup that started before the rotation may still
	// be encrypting to it.
	_, errs, code = sluiceRun(t, "keys", "destroy", "keys/backup", first)
	if code == 0 || !strings.Contains(errs, "less than --retired-for 24h0m0s") {
		t.Fatalf("destroy of a key retired just now: %d %s", code, errs)
	}
	_, errs, code = sluiceRun(t, "keys", "destroy", "--retired-for", "0s", "--dest", "file://./empty", "keys/backup", first)
	if code == 0 || !strings.Contains(errs, "which --dest does not cover") {
		t.Fatalf("destroy with --dest missing the known destination: %d %s", code, errs)
	}
	_, errs, code = sluiceRun(t, "keys", "destroy", "--retired-for", "0s", "keys/backup", first)
	if code == 0 || !strings.Contains(errs, "1 backup(s) still need it") || !strings.Contains(errs, "data.bin.age") {
		t.Fatalf("destroy while needed: %d %s", code, errs)
	}
	// The committed plan: no rotation (young key), rewrap of every known
	// destination, gates pass.
	if _, errs, code := sluiceRun(t, "run", plan); code != 0 {
		t.Fatal(errs)
	}
	if activeKeyID(t) != second {
		t.Error("a young key was rotated")
	}
	// An unfinished move (a rewrap journal left by a crash) needs the old
	// keys to finish: no key is destroyed meanwhile.
	objs, _ := filepath.Glob("backups/*/data.bin.age")
	if len(objs) != 1 {
		t.Fatalf("backups: %v", objs)
	}
	os.WriteFile(objs[0]+".rewrap-journal.json", []byte("{}"), 0o644)
	if _, errs, code := sluiceRun(t, "keys", "destroy", "--retired-for", "0s", "keys/backup", first); code == 0 || !strings.Contains(errs, "unfinished key rotation") {
		t.Fatalf("destroy with a rewrap journal pending: %d %s", code, errs)
	}
	os.Remove(objs[0] + ".rewrap-journal.json")
	if out, errs, code := sluiceRun(t, "keys", "destroy", "--retired-for", "0s", "--reason", "rewrapped", "keys/backup", first); code != 0 || !strings.Contains(out, "checked file://") {
		t.Fatalf("destroy after rewrap: %s%s", out, errs)
	}
	if _, err := os.Stat(filepath.Join("keys/backup", first+".key")); !os.IsNotExist(err) {
		t.Errorf("identity file of a destroyed key: %v", err)
	}
	ledger, _ := os.ReadFile("keys/backup/ledger.json")
	if !bytes.Contains(ledger, []byte(`"action": "destroyed"`)) || !bytes.Contains(ledger, []byte(`"action": "rotated"`)) {
		t.Errorf("ledger lacks events:\n%s", ledger)
	}
	// The plan's new key is post-quantum: age >= 1.3 reads it.
	age13 := "/usr/local/lib/sluice-tools/bin/age"
	if _, err := os.Stat(age13); err != nil {
		testenv.SkipUnlessCI(t, "%s is missing: run scripts/install-test-deps.sh", age13)
	}
	got, err := exec.Command(age13, "-d", "-i", "keys/backup/"+second+".key", objs[0]).Output()
	if err != nil || string(got) != "a backup of sorts\n" {
		t.Errorf("age -d with the new key: %q, %v", got, err)
	}
}

// regexpLine reports whether one line of out holds every word.
func regexpLine(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		ok := true
		for _, w := range words {
			found := false
			for _, x := range f {
				found = found || x == w
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}
