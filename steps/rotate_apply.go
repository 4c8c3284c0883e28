package steps

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/agehdr"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// resume carries out a journaled switch from wherever it stopped: object,
// then manifest and sidecar, then the journal's removal. Each step checks
// what is already done, so it may run any number of times.
func (r *rewrapper) resume(ctx context.Context, bk storedBackup, j *rewrapJournal) error {
	if err := r.apply(ctx, j); err != nil {
		return err
	}
	if err := r.point("object"); err != nil {
		return err
	}
	alg := manifest.SHA256
	if bk.Manifest.Digest != nil {
		alg = bk.Manifest.Digest.Algorithm
	}
	d, size, err := digestObject(ctx, r.b, j.Object, alg)
	if err != nil {
		return err
	}
	m := *bk.Manifest
	m.Stages = append([]manifest.Stage(nil), bk.Manifest.Stages...)
	for i := range m.Stages {
		out := make(map[string]any, len(m.Stages[i].Outputs))
		for k, v := range m.Stages[i].Outputs {
			out[k] = v
		}
		m.Stages[i].Outputs = out
	}
	setManifestKeys(&m, j.KeyIDs, j.Recipients)
	m.Digest, m.StoredBytes = &d, size
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	opts := blob.CreateOptions{Overwrite: true}
	if err := r.b.Put(ctx, manifest.ManifestName(j.Object), data, opts); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if err := r.point("manifest"); err != nil {
		return err
	}
	side := manifest.SidecarName(j.Object, alg)
	if _, err := r.b.Stat(ctx, side); err == nil {
		if err := r.b.Put(ctx, side, manifest.Sidecar(d, j.Object), opts); err != nil {
			return fmt.Errorf("writing the checksum sidecar: %w", err)
		}
	}
	if err := r.point("sidecar"); err != nil {
		return err
	}
	if err := r.b.Remove(ctx, j.Object+journalSuffix); err != nil && !errors.Is(err, blob.ErrNotExist) {
		return fmt.Errorf("removing the rewrap journal: %w", err)
	}
	return nil
}

// apply changes the object unless it already carries the new key.
func (r *rewrapper) apply(ctx context.Context, j *rewrapJournal) error {
	switch j.Apply {
	case applyInPlace:
		return r.applyInPlace(ctx, j)
	case applyCopy:
		done, err := hasPrefix(ctx, r.b, j.Object, j.NewHeader)
		if err != nil || done {
			return err
		}
		return r.replace(ctx, j.Object, func(src io.Reader, w io.Writer) error {
			if _, err := io.CopyN(io.Discard, src, j.OldHeaderLen); err != nil {
				return fmt.Errorf("skipping the old header: %w", err)
			}
			if _, err := w.Write(j.NewHeader); err != nil {
				return err
			}
			_, err := io.Copy(w, src)
			return err
		})
	case applyReencrypt:
		if r.opensWith(ctx, j.Object, r.current) == nil {
			return nil
		}
		return r.replace(ctx, j.Object, func(src io.Reader, w io.Writer) error {
			pr, err := age.Decrypt(src, r.all...)
			if err != nil {
				return fmt.Errorf("decrypting: %w", err)
			}
			aw, err := age.Encrypt(w, r.rs...)
			if err != nil {
				return err
			}
			if _, err := io.Copy(aw, pr); err != nil {
				return fmt.Errorf("re-encrypting: %w", err)
			}
			return aw.Close()
		})
	}
	return fmt.Errorf("rewrap journal has unknown apply %q", j.Apply)
}

// applyInPlace writes the new header over the old one (same length) and
// syncs. A torn write is repaired by the next resume, which writes it again.
func (r *rewrapper) applyInPlace(ctx context.Context, j *rewrapJournal) error {
	if int64(len(j.NewHeader)) != j.OldHeaderLen {
		return fmt.Errorf("rewrap journal of %s: new header is %d bytes, old %d: cannot rewrite in place", j.Object, len(j.NewHeader), j.OldHeaderLen)
	}
	done, err := hasPrefix(ctx, r.b, j.Object, j.NewHeader)
	if err != nil || done {
		return err
	}
	fb, ok := r.b.(*blob.File)
	if !ok {
		return fmt.Errorf("rewrap journal of %s asks for an in-place rewrite, which only file:// destinations allow", j.Object)
	}
	f, err := fb.OpenInPlace(ctx, j.Object)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(j.NewHeader, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rewriting the header of %s: %w", r.b.URL(j.Object), err)
	}
	return nil
}

// replace writes a new version of the object through the backend's atomic
// commit: until Commit, the old version stays.
func (r *rewrapper) replace(ctx context.Context, name string, fill func(src io.Reader, w io.Writer) error) error {
	rc, err := r.b.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := r.b.Create(ctx, name, blob.CreateOptions{Overwrite: true})
	if err != nil {
		return err
	}
	if err := fill(rc, w); err != nil {
		return errors.Join(fmt.Errorf("writing the new %s: %w", r.b.URL(name), err), w.Abort())
	}
	if err := w.Commit(ctx); err != nil {
		return errors.Join(err, w.Abort())
	}
	return nil
}

// digestObject reads the object once and returns its digest and size.
func digestObject(ctx context.Context, b blob.Backend, name, alg string) (manifest.Digest, int64, error) {
	h, err := manifest.NewHash(alg)
	if err != nil {
		return manifest.Digest{}, 0, err
	}
	rc, err := b.Open(ctx, name)
	if err != nil {
		return manifest.Digest{}, 0, err
	}
	defer rc.Close()
	n, err := io.Copy(h, rc)
	if err != nil {
		return manifest.Digest{}, 0, fmt.Errorf("digesting %s: %w", b.URL(name), err)
	}
	return manifest.Digest{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil)), Bytes: n}, n, nil
}

// opensWith checks that ids open the object's header (nil when they do).
func (r *rewrapper) opensWith(ctx context.Context, name string, ids []age.Identity) error {
	rc, err := r.b.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	h, _, err := agehdr.Parse(rc)
	if err != nil {
		return err
	}
	fk, err := agehdr.Unwrap(h, ids...)
	clear(fk)
	return err
}

// check proves a moved backup: the active key decrypts its first chunk (or
// all of it with verify: full) and no retired key opens its header.
func (r *rewrapper) check(ctx context.Context, name string) error {
	rc, err := r.b.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, err := age.Decrypt(rc, r.current...)
	if err != nil {
		return fmt.Errorf("verify: the active key does not open it: %w", err)
	}
	limit := int64(64 << 10) // one STREAM chunk
	if r.verify == "full" {
		limit = 1<<63 - 1
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(pr, limit)); err != nil {
		return fmt.Errorf("verify: decrypting with the active key: %w", err)
	}
	if len(r.retired) > 0 {
		if err := r.opensWith(ctx, name, r.retired); !errors.Is(err, age.ErrIncorrectIdentity) {
			return fmt.Errorf("verify: a retired key still opens the header (%v)", err)
		}
	}
	return nil
}
