package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
)

// TestRotateKeyRewrap rotates X25519 -> X25519 and hybrid -> hybrid (same
// header size: rewritten in place) and X25519 -> hybrid (the header grows:
// copied), then proves with the age CLIs that the new key opens every backup
// and the retired one none, and that the payload bytes did not change.
func TestRotateKeyRewrap(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{keys.TypeX25519, keys.TypeX25519},
		{keys.TypeHybrid, keys.TypeHybrid},
		{keys.TypeX25519, keys.TypeHybrid},
	} {
		t.Run(c.from+" to "+c.to, func(t *testing.T) {
			bin := ageCLI(t, c.to)
			f := newRotFixture(t, c.from, 3, 100<<10)
			before := map[string][]byte{}
			for name := range f.plain {
				before[name] = payloadOf(t, filepath.Join(f.dest, name))
			}
			p := &RotateKey{Key: "backup", Type: c.to, Reason: "test", Rewrap: &RotateRewrap{Dest: "file://" + f.dest, Verify: "full"}}
			out, err := p.Run(context.Background(), f.sc())
			if err != nil {
				t.Fatal(err)
			}
			inPlace := int64(3)
			if c.from != c.to {
				inPlace = 0
			}
			if out["rotated"] != true || out["rewrapped"] != int64(3) || out["failed"] != int64(0) || out["still_on_retired_keys"] != int64(0) || out["rewrapped_in_place"] != inPlace {
				t.Fatalf("outputs = %v", out)
			}
			d, _ := keys.OpenDir(f.keyDir)
			active, _ := d.Active()
			f.checkBackups(t, active.ID, []age.Identity{identity(t, d, active.ID)})
			for name, plain := range f.plain {
				path := filepath.Join(f.dest, name)
				if !bytes.Equal(payloadOf(t, path), before[name]) {
					t.Errorf("%s: payload bytes changed by a rewrap", name)
				}
				if !cliOpens(t, bin, d.KeyFile(active.ID), path, plain) {
					t.Errorf("%s: age CLI cannot open it with the new key", name)
				}
				if cliOpens(t, bin, d.KeyFile(f.first.ID), path, plain) {
					t.Errorf("%s: age CLI still opens it with the retired key", name)
				}
			}
			// A second run finds nothing to do.
			out, err = (&RotateKey{Key: "backup", Type: c.to, MaxAge: "180d", Rewrap: p.Rewrap}).Run(context.Background(), f.sc())
			if err != nil || out["rotated"] != false || out["skipped"] != int64(3) || out["rewrapped"] != int64(0) {
				t.Errorf("second run: %v, %v", out, err)
			}
		})
	}
}

// TestRotateKeyReencrypt checks that reencrypt changes the payload (new
// file key) and keeps the plaintext.
func TestRotateKeyReencrypt(t *testing.T) {
	f := newRotFixture(t, keys.TypeX25519, 2, 70<<10)
	before := map[string][]byte{}
	for name := range f.plain {
		before[name] = payloadOf(t, filepath.Join(f.dest, name))
	}
	p := &RotateKey{Key: "backup", Type: keys.TypeX25519, Rewrap: &RotateRewrap{Dest: f.dest, Mode: "reencrypt"}}
	out, err := p.Run(context.Background(), f.sc())
	if err != nil || out["rewrapped"] != int64(2) || out["still_on_retired_keys"] != int64(0) {
		t.Fatalf("%v, %v", out, err)
	}
	d, _ := keys.OpenDir(f.keyDir)
	active, _ := d.Active()
	f.checkBackups(t, active.ID, []age.Identity{identity(t, d, active.ID)})
	for name := range f.plain {
		if bytes.Equal(payloadOf(t, filepath.Join(f.dest, name)), before[name]) {
			t.Errorf("%s: reencrypt left the payload unchanged", name)
		}
	}
}

// TestRotateKeyCrash stops a rewrap after each durable step, as a crash
// would, checks that the backup at rest opens with the old or the new key,
// then reruns and checks that everything is consistent on the new key. A
// torn header write (half the new header on disk) is repaired the same way.
func TestRotateKeyCrash(t *testing.T) {
	for _, mode := range []string{"rewrap", "reencrypt"} {
		for _, point := range []string{"journaled", "torn", "object", "signature", "manifest", "sidecar"} {
			if mode == "reencrypt" && point == "torn" {
				continue
			}
			t.Run(mode+"/"+point, func(t *testing.T) {
				f := newRotFixture(t, keys.TypeX25519, 2, 10<<10)
				ctx := context.Background()
				if _, err := f.store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
					t.Fatal(err)
				}
				active, _ := f.store.Active()
				oldID, newID := identity(t, f.store, f.first.ID), identity(t, f.store, active.ID)
				r, err := newRewrapper(blob.NewFile(f.dest), f.store, mode, "first-chunk", false)
				if err != nil {
					t.Fatal(err)
				}
				hookPoint := point
				if point == "torn" {
					hookPoint = "journaled"
				}
				r.hook = func(p string) error {
					if p == hookPoint {
						return errCrash
					}
					return nil
				}
				res, err := r.run(ctx)
				if err != nil || len(res.Failed) != 2 {
					t.Fatalf("crashing run: %+v, %v", res, err)
				}
				for name, plain := range f.plain {
					path := filepath.Join(f.dest, name)
					if point == "torn" {
						j, err := r.readJournal(ctx, name)
						if err != nil || j == nil {
							t.Fatalf("no journal after the crash: %v", err)
						}
						fh, _ := os.OpenFile(path, os.O_WRONLY, 0)
						fh.WriteAt(j.NewHeader[:len(j.NewHeader)/2], 0)
						fh.Close()
						continue
					}
					data, _ := os.ReadFile(path)
					opened := 0
					for _, id := range []age.Identity{oldID, newID} {
						if rd, err := age.Decrypt(bytes.NewReader(data), id); err == nil {
							var got bytes.Buffer
							got.ReadFrom(rd)
							if bytes.Equal(got.Bytes(), plain) {
								opened++
							}
						}
					}
					if opened != 1 {
						t.Errorf("%s after a crash at %s: opens with %d of old/new keys, want exactly 1", name, point, opened)
					}
				}
				r.hook = nil
				res, err = r.run(ctx)
				if err != nil || len(res.Rewrapped) != 2 || len(res.Failed) != 0 || len(res.StillOnRetired) != 0 {
					t.Fatalf("rerun: %+v, %v", res, err)
				}
				f.checkBackups(t, active.ID, []age.Identity{newID})
			})
		}
	}
}

// TestRotateKeyMaxAgeAndDryRun checks the age gate and that a dry run
// changes nothing.
func TestRotateKeyMaxAgeAndDryRun(t *testing.T) {
	f := newRotFixture(t, keys.TypeX25519, 1, 1000)
	out, err := (&RotateKey{Key: "backup", Type: keys.TypeX25519, MaxAge: "180d"}).Run(context.Background(), f.sc())
	if err != nil || out["rotated"] != false || out["active_key_id"] != f.first.ID {
		t.Errorf("young key: %v, %v", out, err)
	}
	out, err = (&RotateKey{Key: "backup", Type: keys.TypeX25519, DryRun: true, Rewrap: &RotateRewrap{Dest: f.dest}}).Run(context.Background(), f.sc())
	if err != nil || out["rotated"] != true || out["dry_run"] != true {
		t.Errorf("dry run: %v, %v", out, err)
	}
	d, _ := keys.OpenDir(f.keyDir)
	if len(d.Keys()) != 1 {
		t.Errorf("dry run created a key")
	}
	f.checkBackups(t, f.first.ID, []age.Identity{identity(t, d, f.first.ID)})
	if err := (&RotateKey{Type: keys.TypeX25519, MaxAge: "soon"}).Validate(); err == nil {
		t.Error("max_age soon accepted")
	}
	if d, err := ParseAge("180d"); err != nil || d.Hours() != 180*24 {
		t.Errorf("ParseAge(180d) = %v, %v", d, err)
	}
}
