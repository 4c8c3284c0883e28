package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// A backup in parts moves as one: one journal (applyParts, named after
// the backup) holds the switch of every part, each planned and checked as
// a backup of one object is (its bytes against its own signed digest), and
// the one new manifest with every part's new digest is written after the
// last part changed. A crash anywhere is finished by the next run: each
// part's rewrite checks whether it is already done.

// applyParts marks the journal of a backup in parts; its Parts are the
// journals of its objects (their own Manifest empty).
const applyParts = "parts"

// planParts plans the switch of every part of the backup m describes into
// j.Parts. A re-encryption is refused: it would need a new file key per
// part and a journal entry per re-encrypted object, which this does not do
// yet.
func (r *Rewrapper) planParts(ctx context.Context, j *journal, m *manifest.Manifest) error {
	if r.mode == ModeReencrypt {
		return errors.New("mode reencrypt does not move a backup in parts: rewrap it (the default mode), or make a new backup and prune this one")
	}
	j.Apply = applyParts
	for i, p := range m.Parts {
		pj := journal{Object: catalog.PartPath(j.Object, p.Name), KeyIDs: j.KeyIDs, Recipients: j.Recipients}
		if err := r.planObject(ctx, &pj, m.Part(i)); err != nil {
			return fmt.Errorf("part %s: %w", r.b.URL(pj.Object), err)
		}
		j.Parts = append(j.Parts, pj)
	}
	return nil
}

// resumeParts carries out the journaled switch of a backup in parts: every
// part's new header (checked against its old one under the store's keys
// first), then the new manifest and the parts' sidecars.
func (r *Rewrapper) resumeParts(ctx context.Context, j *journal, base *manifest.Manifest, found bool) error {
	if !base.InParts() || len(j.Parts) != len(base.Parts) {
		return fmt.Errorf("rewrap journal of %s does not match its manifest's parts: refusing to apply it", j.Object)
	}
	for i := range j.Parts {
		pj := &j.Parts[i]
		if pj.Object != catalog.PartPath(j.Object, base.Parts[i].Name) || pj.Apply == applyReencrypt || pj.Apply == applyParts {
			return fmt.Errorf("rewrap journal of %s: its part %d is not the manifest's %s: refusing to apply it", j.Object, i, base.Parts[i].Name)
		}
		if err := pj.checkHeaders(r.all, r.storeIDs); err != nil {
			return err
		}
	}
	m := movedManifest(base, j)
	digests := map[string]manifest.Digest{}
	m.StoredBytes = 0
	for i := range j.Parts {
		d, size, err := r.apply(ctx, &j.Parts[i], base.Part(i), found)
		if err != nil {
			return fmt.Errorf("part %s: %w", r.b.URL(j.Parts[i].Object), err)
		}
		if err := r.point("part"); err != nil {
			return err
		}
		m.Parts[i].Digest, m.Parts[i].StoredBytes = &d, size
		m.StoredBytes += size
		digests[j.Parts[i].Object] = d
	}
	if err := r.point("object"); err != nil {
		return err
	}
	return r.commitMove(ctx, j, m, digests)
}

// objects returns the names of the objects a journal moves.
func (j *journal) objects() []string {
	if j.Apply != applyParts {
		return []string{j.Object}
	}
	names := make([]string, len(j.Parts))
	for i, p := range j.Parts {
		names[i] = p.Object
	}
	return names
}

// inPlace tells whether every object of the move is rewritten in place.
func (j *journal) inPlace() bool {
	if j.Apply != applyParts {
		return j.Apply == applyInPlace
	}
	for _, p := range j.Parts {
		if p.Apply != applyInPlace {
			return false
		}
	}
	return true
}
