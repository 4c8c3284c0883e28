package steps

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
)

func rotateContext(f *rotationtest.Fixture) *runner.StepContext {
	return &runner.StepContext{ID: "rotate", Type: "rotate-key", Logger: hclog.NewNullLogger(), Keys: f.Keys()}
}

// TestRotateKeyRewrap rotates the store and moves its backups onto the new
// key (same key type: headers rewritten in place); the outputs count them,
// and a second run with max_age rotates nothing and moves nothing.
func TestRotateKeyRewrap(t *testing.T) {
	f := rotationtest.New(t, keys.TypeX25519, 3, 10<<10)
	p := &RotateKey{Key: "backup", Type: keys.TypeX25519, Reason: "test", Rewrap: &RotateRewrap{Dest: "file://" + f.Dest, Verify: "full"}}
	out, err := p.Run(context.Background(), rotateContext(f))
	if err != nil {
		t.Fatal(err)
	}
	if out["rotated"] != true || out["previous_key_id"] != f.First.ID || out["rewrapped"] != int64(3) || out["rewrapped_in_place"] != int64(3) ||
		out["failed"] != int64(0) || out["still_on_retired_keys"] != int64(0) {
		t.Fatalf("outputs = %v", out)
	}
	d, _ := keys.OpenDir(f.KeyDir)
	active, _ := d.Active()
	if out["active_key_id"] != active.ID || active.ID == f.First.ID {
		t.Errorf("active_key_id = %v, store's active key %s", out["active_key_id"], active.ID)
	}
	f.Check(t, active.ID, []age.Identity{rotationtest.Identity(t, d, active.ID)})
	out, err = (&RotateKey{Key: "backup", Type: keys.TypeX25519, MaxAge: runner.Duration{Days: 180}, Rewrap: p.Rewrap}).Run(context.Background(), rotateContext(f))
	if err != nil || out["rotated"] != false || out["skipped"] != int64(3) || out["rewrapped"] != int64(0) {
		t.Errorf("second run: %v, %v", out, err)
	}
}

// TestRotateKeyMaxAgeAndDryRun checks the age gate and that a dry run
// changes nothing.
func TestRotateKeyMaxAgeAndDryRun(t *testing.T) {
	f := rotationtest.New(t, keys.TypeX25519, 1, 1000)
	out, err := (&RotateKey{Key: "backup", Type: keys.TypeX25519, MaxAge: runner.Duration{Days: 180}}).Run(context.Background(), rotateContext(f))
	if err != nil || out["rotated"] != false || out["active_key_id"] != f.First.ID {
		t.Errorf("young key: %v, %v", out, err)
	}
	out, err = (&RotateKey{Key: "backup", Type: keys.TypeX25519, DryRun: true, Rewrap: &RotateRewrap{Dest: f.Dest}}).Run(context.Background(), rotateContext(f))
	if err != nil || out["rotated"] != true || out["dry_run"] != true {
		t.Errorf("dry run: %v, %v", out, err)
	}
	d, _ := keys.OpenDir(f.KeyDir)
	if len(d.Keys()) != 1 {
		t.Errorf("dry run created a key")
	}
	f.Check(t, f.First.ID, []age.Identity{rotationtest.Identity(t, d, f.First.ID)})
	plan := "version: 1\nkeys: {k: {path: keys}}\nsteps:\n  r: {type: rotate-key, with: {key: k, max_age: soon}}\n"
	if _, err := runner.Load("p.yaml", []byte(plan), Builtin()); err == nil || !strings.Contains(err.Error(), `with.max_age: "soon" is not a duration`) {
		t.Errorf("max_age soon: %v", err)
	}
}

// TestRotateKeyKnownDestinations moves the backups of every destination
// the store's ledger knows when rewrap.dest is empty, and warns (log and
// outputs) when rewrap.dest holds no backups and leaves a known
// destination unchecked: the mistake of a rotation that passed with
// rewrapped=0 while the real backups stayed on the retired key.
func TestRotateKeyKnownDestinations(t *testing.T) {
	f := rotationtest.New(t, keys.TypeX25519, 2, 1000)
	d, _ := keys.OpenDir(f.KeyDir)
	dest, _ := blob.FolderURL(f.Dest)

	// No dest and no known destination: refused before any key changes.
	_, err := (&RotateKey{Key: "backup", Type: keys.TypeX25519, Rewrap: &RotateRewrap{}}).Run(context.Background(), rotateContext(f))
	if err == nil || !strings.Contains(err.Error(), "knows no destination") {
		t.Fatalf("rewrap without any destination: %v", err)
	}
	if d, _ := keys.OpenDir(f.KeyDir); len(d.Keys()) != 1 {
		t.Fatal("a rewrap with nowhere to look rotated the key")
	}

	if _, err := d.AddDestination(f.Dest, "test"); err != nil {
		t.Fatal(err)
	}
	// The wrong folder: nothing found there, the known one unchecked.
	var logs bytes.Buffer
	sc := rotateContext(f)
	sc.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	empty := t.TempDir()
	out, err := (&RotateKey{Key: "backup", Type: keys.TypeX25519, Rewrap: &RotateRewrap{Dest: empty}}).Run(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if out["rotated"] != true || out["rewrapped"] != int64(0) || out["backups_found"] != int64(0) {
		t.Fatalf("outputs = %v", out)
	}
	if got := outStrings(out["unchecked_destinations"]); len(got) != 1 || got[0] != dest {
		t.Errorf("unchecked_destinations = %v, want [%s]", got, dest)
	}
	warnings := outStrings(out["warnings"])
	if len(warnings) != 2 || !strings.Contains(warnings[0], "records backups written to "+dest) || !strings.Contains(warnings[1], "no backups under file://"+empty) {
		t.Errorf("warnings = %q", warnings)
	}
	for _, w := range []string{"no backups under file://" + empty, "which rewrap.dest does not cover"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
	if s := rotateKeyOutcome(out); !strings.HasPrefix(s, "rotated: key ") || !strings.HasSuffix(s, "; rewrapped 0 backups under file://"+empty+"; warning: no backups under file://"+empty+"; warning: not looked in although the ledger records backups there: "+dest) {
		t.Errorf("outcome = %q", s)
	}

	// Empty dest: every known destination, here the real one.
	out, err = (&RotateKey{Key: "backup", Type: keys.TypeX25519, MaxAge: runner.Duration{Days: 180}, Rewrap: &RotateRewrap{}}).Run(context.Background(), rotateContext(f))
	if err != nil {
		t.Fatal(err)
	}
	if out["rotated"] != false || out["rewrapped"] != int64(2) || out["backups_found"] != int64(2) || len(outStrings(out["warnings"])) != 0 || len(outStrings(out["unchecked_destinations"])) != 0 {
		t.Fatalf("outputs = %v", out)
	}
	if got := outStrings(out["destinations"]); len(got) != 1 || got[0] != dest {
		t.Errorf("destinations = %v", got)
	}
	if s := rotateKeyOutcome(out); s != "not rotated: active key "+out["active_key_id"].(string)+" is 0 days old, max_age 180d; rewrapped 2 backups under "+dest {
		t.Errorf("outcome = %q", s)
	}
	d, _ = keys.OpenDir(f.KeyDir)
	active, _ := d.Active()
	f.Check(t, active.ID, []age.Identity{rotationtest.Identity(t, d, active.ID)})
}
