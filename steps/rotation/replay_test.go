package rotation

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
)

// TestOldJournalPutBackIsRefused plays someone who can write the backup
// folder: they keep a copy of the signed journal of an in-place rewrap
// (A -> B) and put it back after a later move B -> C: a re-encryption (a
// new file key: written, the old header would leave bytes no key opens,
// under a manifest sluice signs) or another in-place rewrap (the same
// payload: written, it would roll the backup back onto retired key B).
// The next rotation refuses, leaving the journal for the operator, and the
// backup, its manifest and sidecar still agree and open with C.
func TestOldJournalPutBackIsRefused(t *testing.T) {
	for _, mode := range []string{ModeReencrypt, ModeRewrap} {
		t.Run("then "+mode, func(t *testing.T) { testOldJournalPutBack(t, mode) })
	}
}

func testOldJournalPutBack(t *testing.T, mode string) {
	ctx := context.Background()
	f := rotationtest.New(t, keys.TypeX25519, 1, 100<<10)
	var name string
	for n := range f.Plain {
		name = n
	}
	journalPath := filepath.Join(f.Dest, name) + journalSuffix

	if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
		t.Fatal(err)
	}
	r, err := New(blob.NewFile(f.Dest), f.Store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.hook = func(p string) error {
		if p == "journaled" {
			return errCrash
		}
		return nil
	}
	_, _ = r.Run(ctx)
	old, err := os.ReadFile(journalPath)
	if err != nil {
		t.Fatal(err)
	}
	r.hook = nil
	if res, err := r.Run(ctx); err != nil || len(res.Rewrapped) != 1 || res.InPlace != 1 {
		t.Fatalf("rewrap A -> B: %+v, %v", res, err)
	}

	if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
		t.Fatal(err)
	}
	r2, err := New(blob.NewFile(f.Dest), f.Store, Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r2.Run(ctx); err != nil || len(res.Rewrapped) != 1 {
		t.Fatalf("move B -> C (%q): %+v, %v", mode, res, err)
	}
	active, _ := f.Store.Active()

	if err := os.WriteFile(journalPath, old, 0o644); err != nil {
		t.Fatal(err)
	}
	r3, err := New(blob.NewFile(f.Dest), f.Store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r3.Run(ctx)
	if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "not the object its rewrap journal was written for") {
		t.Fatalf("the old journal was not refused: %+v", res)
	}
	// As the refusal says: check the backup, then remove the journal.
	if err := os.Remove(journalPath); err != nil {
		t.Fatal(err)
	}
	f.Check(t, active.ID, []age.Identity{rotationtest.Identity(t, f.Store, active.ID)})
}
