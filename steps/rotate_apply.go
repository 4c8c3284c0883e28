package steps

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// resume carries out a journaled switch from wherever it stopped: object,
// then the new manifest's signature and the manifest, then the sidecar and
// the journal's removal. Each step checks what is already done, so it may
// run any number of times. The journal was authenticated by readJournal
// (or written just now); here the manifest it carries passes the signature
// gate again and its headers must match under the store's keys before
// anything is written.
func (r *rewrapper) resume(ctx context.Context, bk storedBackup, j *rewrapJournal) error {
	base, err := r.trust.Check(r.b.URL(j.Object), j.Object, j.Manifest, j.ManifestSig, len(j.ManifestSig) > 0)
	if err != nil {
		return fmt.Errorf("rewrap journal: the manifest it carries: %w", err)
	}
	if base.Manifest.Digest == nil {
		return errors.New("rewrap journal: the manifest it carries records no digest")
	}
	if err := r.checkHeaders(j); err != nil {
		return err
	}
	d, size, err := r.apply(ctx, j, base.Manifest)
	if err != nil {
		return err
	}
	if err := r.point("object"); err != nil {
		return err
	}
	m := *base.Manifest
	m.Stages = append([]manifest.Stage(nil), base.Manifest.Stages...)
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
	sig, err := r.signer.Sign(data, signing.ManifestNamespace)
	if err != nil {
		return err
	}
	opts := blob.CreateOptions{Overwrite: true}
	if err := r.b.Put(ctx, manifest.SignatureName(j.Object), sig, opts); err != nil {
		return fmt.Errorf("writing the manifest signature: %w", err)
	}
	if err := r.point("signature"); err != nil {
		return err
	}
	if err := r.b.Put(ctx, manifest.ManifestName(j.Object), data, opts); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if err := r.point("manifest"); err != nil {
		return err
	}
	side := manifest.SidecarName(j.Object, d.Algorithm)
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

// apply changes the object unless it already carries the move, and returns
// the digest and size of its new bytes. The digest is never read back from
// the object: it was computed from bytes checked against the signed
// manifest, so the new signature vouches only for what was verified.
func (r *rewrapper) apply(ctx context.Context, j *rewrapJournal, base *manifest.Manifest) (manifest.Digest, int64, error) {
	switch j.Apply {
	case applyInPlace, applyCopy:
		d, err := parseDigest(j.NewDigest)
		if err != nil {
			return manifest.Digest{}, 0, err
		}
		done, err := hasPrefix(ctx, r.b, j.Object, j.NewHeader)
		if err != nil || done {
			return d, j.NewSize, err
		}
		if j.Apply == applyInPlace {
			return d, j.NewSize, r.applyInPlace(ctx, j)
		}
		return d, j.NewSize, r.applyCopy(ctx, j, d)
	case applyReencrypt:
		return r.applyReencrypt(ctx, j, base)
	}
	return manifest.Digest{}, 0, fmt.Errorf("rewrap journal has unknown apply %q", j.Apply)
}

// applyInPlace writes the new header over the old one (same length) and
// syncs. A torn write is repaired by the next resume, which writes it again.
func (r *rewrapper) applyInPlace(ctx context.Context, j *rewrapJournal) error {
	if int64(len(j.NewHeader)) != j.OldHeaderLen || int64(len(j.OldHeader)) != j.OldHeaderLen {
		return fmt.Errorf("rewrap journal of %s: new header is %d bytes, old %d: cannot rewrite in place", j.Object, len(j.NewHeader), j.OldHeaderLen)
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

// applyCopy writes the new header and the unchanged payload as a new
// version of the object. The old header must be the journal's, and the new
// bytes must have the journal's digest, or the old version stays.
func (r *rewrapper) applyCopy(ctx context.Context, j *rewrapJournal, want manifest.Digest) error {
	h, err := manifest.NewHash(want.Algorithm)
	if err != nil {
		return err
	}
	return r.replace(ctx, j.Object, func(src io.Reader, w io.Writer) error {
		old := make([]byte, j.OldHeaderLen)
		if _, err := io.ReadFull(src, old); err != nil {
			return fmt.Errorf("reading the old header: %w", err)
		}
		if !bytes.Equal(old, j.OldHeader) {
			return errors.New("its header is not the one the rewrap journal recorded: not touched")
		}
		out := io.MultiWriter(w, h)
		if _, err := out.Write(j.NewHeader); err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex {
			return fmt.Errorf("its payload changed since it was checked against its signed manifest (new digest %s:%s, want %s): not touched", want.Algorithm, got, want)
		}
		return nil
	})
}

// applyReencrypt decrypts the object and encrypts it with a new file key,
// unless its bytes already have the journal's new digest. The old bytes
// must have the signed manifest's digest; the new digest is journaled
// (signed) before the new version is committed.
func (r *rewrapper) applyReencrypt(ctx context.Context, j *rewrapJournal, base *manifest.Manifest) (manifest.Digest, int64, error) {
	alg := base.Digest.Algorithm
	cur, size, err := digestObject(ctx, r.b, j.Object, alg)
	if err != nil {
		return manifest.Digest{}, 0, err
	}
	if j.NewDigest != "" && cur.String() == j.NewDigest {
		return cur, size, nil
	}
	if cur.Hex != base.Digest.Hex {
		return manifest.Digest{}, 0, fmt.Errorf("its bytes match neither its signed manifest (%s) nor the rewrap journal: not touched; run sluice backups verify", base.Digest)
	}
	hOld, _ := manifest.NewHash(alg)
	hNew, _ := manifest.NewHash(alg)
	n := &countWriter{w: io.Discard}
	var d manifest.Digest
	err = r.replaceThen(ctx, j.Object, func(src io.Reader, w io.Writer) error {
		pr, err := age.Decrypt(io.TeeReader(src, hOld), r.all...)
		if err != nil {
			return fmt.Errorf("decrypting: %w", err)
		}
		aw, err := age.Encrypt(io.MultiWriter(w, hNew, n), r.rs...)
		if err != nil {
			return err
		}
		if _, err := io.Copy(aw, pr); err != nil {
			return fmt.Errorf("re-encrypting: %w", err)
		}
		if err := aw.Close(); err != nil {
			return err
		}
		io.Copy(hOld, src) // what follows age's end, if anything, counts too
		if got := hex.EncodeToString(hOld.Sum(nil)); got != base.Digest.Hex {
			return fmt.Errorf("its bytes changed while they were re-encrypted (%s:%s, want %s): not touched", alg, got, base.Digest)
		}
		return nil
	}, func() error {
		d = manifest.Digest{Algorithm: alg, Hex: hex.EncodeToString(hNew.Sum(nil)), Bytes: n.n}
		j.NewDigest, j.NewSize = d.String(), n.n
		return r.writeJournal(ctx, j)
	})
	return d, n.n, err
}

// parseDigest parses "alg:hex".
func parseDigest(s string) (manifest.Digest, error) {
	for _, alg := range manifest.Algorithms {
		if hx, ok := strings.CutPrefix(s, alg+":"); ok {
			d := manifest.Digest{Algorithm: alg, Hex: hx}
			return d, d.Validate()
		}
	}
	return manifest.Digest{}, fmt.Errorf("rewrap journal: digest %q is not algorithm:hex", s)
}

// replace writes a new version of the object through the backend's atomic
// commit: until Commit, the old version stays.
func (r *rewrapper) replace(ctx context.Context, name string, fill func(src io.Reader, w io.Writer) error) error {
	return r.replaceThen(ctx, name, fill, nil)
}

// replaceThen is replace with a step (before, when not nil) that must
// succeed between the new version's last byte and its commit.
func (r *rewrapper) replaceThen(ctx context.Context, name string, fill func(src io.Reader, w io.Writer) error, before func() error) error {
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
	if before != nil {
		if err := before(); err != nil {
			return errors.Join(err, w.Abort())
		}
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

// headerCheck is what one read of an object says about a rewrap: whether
// its payload behind the old header has the signed manifest's digest, and
// the digest and size it has behind the new header.
type headerCheck struct {
	pending   bool
	newDigest manifest.Digest
	newSize   int64
}

// headerState reads the object once. Its first OldHeaderLen bytes are its
// header (recorded as j.OldHeader when the journal has none yet); the rest
// is hashed twice, behind the old header and behind the new one.
func (r *rewrapper) headerState(ctx context.Context, j *rewrapJournal, base *manifest.Manifest) (headerCheck, error) {
	alg := base.Digest.Algorithm
	hOld, err := manifest.NewHash(alg)
	if err != nil {
		return headerCheck{}, err
	}
	hNew, _ := manifest.NewHash(alg)
	rc, err := r.b.Open(ctx, j.Object)
	if err != nil {
		return headerCheck{}, err
	}
	defer rc.Close()
	cur := make([]byte, j.OldHeaderLen)
	if _, err := io.ReadFull(rc, cur); err != nil {
		return headerCheck{}, fmt.Errorf("reading the header of %s: %w", r.b.URL(j.Object), err)
	}
	if j.OldHeader == nil {
		j.OldHeader = cur
	}
	hOld.Write(j.OldHeader)
	hNew.Write(j.NewHeader)
	// Both digests in one read: the old bytes must have the signed digest,
	// the new ones go into the new manifest.
	n, err := io.Copy(io.MultiWriter(hOld, hNew), rc)
	if err != nil {
		return headerCheck{}, fmt.Errorf("digesting %s: %w", r.b.URL(j.Object), err)
	}
	return headerCheck{
		pending:   hex.EncodeToString(hOld.Sum(nil)) == base.Digest.Hex && (base.StoredBytes == 0 || base.StoredBytes == int64(len(j.OldHeader))+n),
		newDigest: manifest.Digest{Algorithm: alg, Hex: hex.EncodeToString(hNew.Sum(nil))},
		newSize:   int64(len(j.NewHeader)) + n,
	}, nil
}

// opensWith checks that ids open the object's header (nil when they do).
func (r *rewrapper) opensWith(ctx context.Context, name string, ids []age.Identity) error {
	rc, err := r.b.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	h, _, err := agefile.Parse(rc)
	if err != nil {
		return err
	}
	fk, err := agefile.Unwrap(h, ids...)
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
