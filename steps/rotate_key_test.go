package steps

import (
	"context"
	"testing"

	"filippo.io/age"
	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
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
	out, err = (&RotateKey{Key: "backup", Type: keys.TypeX25519, MaxAge: "180d", Rewrap: p.Rewrap}).Run(context.Background(), rotateContext(f))
	if err != nil || out["rotated"] != false || out["skipped"] != int64(3) || out["rewrapped"] != int64(0) {
		t.Errorf("second run: %v, %v", out, err)
	}
}

// TestRotateKeyMaxAgeAndDryRun checks the age gate and that a dry run
// changes nothing.
func TestRotateKeyMaxAgeAndDryRun(t *testing.T) {
	f := rotationtest.New(t, keys.TypeX25519, 1, 1000)
	out, err := (&RotateKey{Key: "backup", Type: keys.TypeX25519, MaxAge: "180d"}).Run(context.Background(), rotateContext(f))
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
	if err := (&RotateKey{Type: keys.TypeX25519, MaxAge: "soon"}).Validate(); err == nil {
		t.Error("max_age soon accepted")
	}
	if d, err := ParseAge("180d"); err != nil || d.Hours() != 180*24 {
		t.Errorf("ParseAge(180d) = %v, %v", d, err)
	}
}
