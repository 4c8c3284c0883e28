package rotation

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
)

// rotated makes a fixture of n backups on a key of type from, rotates its
// store to a key of type to and returns it with a Rewrapper over it.
func rotated(t testing.TB, from, to string, n, size int, opts Options) (*rotationtest.Fixture, *Rewrapper) {
	t.Helper()
	f := rotationtest.New(t, from, n, size)
	if _, err := f.Store.Rotate(keys.RotateOptions{Type: to, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	r, err := New(blob.NewFile(f.Dest), f.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f, r
}

// TestRewrap rewraps X25519 -> X25519 and hybrid -> hybrid (same header
// size: rewritten in place) and X25519 -> hybrid (the header grows:
// copied), then proves with the age CLIs that the new key opens every
// backup and the retired one none, and that the payload bytes did not
// change.
func TestRewrap(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{keys.TypeX25519, keys.TypeX25519},
		{keys.TypeHybrid, keys.TypeHybrid},
		{keys.TypeX25519, keys.TypeHybrid},
	} {
		t.Run(c.from+" to "+c.to, func(t *testing.T) {
			bin := rotationtest.AgeCLI(t, c.to)
			f, r := rotated(t, c.from, c.to, 3, 100<<10, Options{Verify: VerifyFull})
			before := map[string][]byte{}
			for name := range f.Plain {
				before[name] = rotationtest.Payload(t, filepath.Join(f.Dest, name))
			}
			res, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			inPlace := 3
			if c.from != c.to {
				inPlace = 0
			}
			if res.Found != 3 || len(res.Rewrapped) != 3 || len(res.Failed) != 0 || len(res.StillOnRetired) != 0 || res.InPlace != inPlace || res.Copied != 3-inPlace {
				t.Fatalf("result = %+v", res)
			}
			active, _ := f.Store.Active()
			f.Check(t, active.ID, []age.Identity{rotationtest.Identity(t, f.Store, active.ID)})
			for name, plain := range f.Plain {
				path := filepath.Join(f.Dest, name)
				if !bytes.Equal(rotationtest.Payload(t, path), before[name]) {
					t.Errorf("%s: payload bytes changed by a rewrap", name)
				}
				if !rotationtest.CLIOpens(t, bin, f.Store.KeyFile(active.ID), path, plain) {
					t.Errorf("%s: age CLI cannot open it with the new key", name)
				}
				if rotationtest.CLIOpens(t, bin, f.Store.KeyFile(f.First.ID), path, plain) {
					t.Errorf("%s: age CLI still opens it with the retired key", name)
				}
			}
			// A second run finds nothing to do.
			res, err = r.Run(context.Background())
			if err != nil || res.Found != 3 || len(res.Skipped) != 3 || len(res.Rewrapped) != 0 {
				t.Errorf("second run: %+v, %v", res, err)
			}
		})
	}
}

// TestReencrypt checks that reencrypt changes the payload (new file key)
// and keeps the plaintext.
func TestReencrypt(t *testing.T) {
	f, r := rotated(t, keys.TypeX25519, keys.TypeX25519, 2, 70<<10, Options{Mode: ModeReencrypt})
	before := map[string][]byte{}
	for name := range f.Plain {
		before[name] = rotationtest.Payload(t, filepath.Join(f.Dest, name))
	}
	res, err := r.Run(context.Background())
	if err != nil || len(res.Rewrapped) != 2 || len(res.StillOnRetired) != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	active, _ := f.Store.Active()
	f.Check(t, active.ID, []age.Identity{rotationtest.Identity(t, f.Store, active.ID)})
	for name := range f.Plain {
		if bytes.Equal(rotationtest.Payload(t, filepath.Join(f.Dest, name)), before[name]) {
			t.Errorf("%s: reencrypt left the payload unchanged", name)
		}
	}
}

// TestPending lists the backups on a retired key and changes no file.
func TestPending(t *testing.T) {
	f, r := rotated(t, keys.TypeX25519, keys.TypeX25519, 2, 1000, Options{})
	before := snapshot(t, f.Dest)
	pending, err := r.Pending(context.Background())
	if err != nil || len(pending) != 2 {
		t.Fatalf("Pending = %v, %v", pending, err)
	}
	res, err := r.Survey(context.Background())
	if err != nil || res.Found != 2 || len(res.StillOnRetired) != 2 || len(res.Rewrapped) != 0 {
		t.Fatalf("Survey = %+v, %v", res, err)
	}
	if after := snapshot(t, f.Dest); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Error("Pending or Survey changed files under the destination")
	}
	// An empty destination: nothing found, nothing to move.
	empty, err := New(blob.NewFile(t.TempDir()), f.Store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := empty.Survey(context.Background()); err != nil || res.Found != 0 || len(res.StillOnRetired) != 0 {
		t.Errorf("Survey of an empty destination = %+v, %v", res, err)
	}
}

// snapshot returns every file under dir with its bytes.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		out[path], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var errCrash = errors.New("simulated crash")

// TestRewrapCrash stops a rewrap after each durable step, as a crash
// would, checks that the backup at rest opens with the old or the new key,
// then reruns and checks that everything is consistent on the new key. A
// torn header write (half the new header on disk) is repaired the same way.
func TestRewrapCrash(t *testing.T) {
	for _, mode := range []string{ModeRewrap, ModeReencrypt} {
		for _, point := range []string{"journaled", "torn", "object", "signature", "manifest", "sidecar"} {
			if mode == ModeReencrypt && point == "torn" {
				continue
			}
			t.Run(mode+"/"+point, func(t *testing.T) {
				f, r := rotated(t, keys.TypeX25519, keys.TypeX25519, 2, 10<<10, Options{Mode: mode})
				ctx := context.Background()
				active, _ := f.Store.Active()
				oldID, newID := rotationtest.Identity(t, f.Store, f.First.ID), rotationtest.Identity(t, f.Store, active.ID)
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
				res, err := r.Run(ctx)
				if err != nil || len(res.Failed) != 2 {
					t.Fatalf("crashing run: %+v, %v", res, err)
				}
				for name, plain := range f.Plain {
					path := filepath.Join(f.Dest, name)
					if point == "torn" {
						j, err := r.journals.read(ctx, name)
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
				res, err = r.Run(ctx)
				if err != nil || len(res.Rewrapped) != 2 || len(res.Failed) != 0 || len(res.StillOnRetired) != 0 {
					t.Fatalf("rerun: %+v, %v", res, err)
				}
				f.Check(t, active.ID, []age.Identity{newID})
			})
		}
	}
}
