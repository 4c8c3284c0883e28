package rotation

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
	"github.com/sluice-dev/sluice/steps/internal/streamio"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// This file holds what a move does to one object: the rewrites of its
// bytes, each committed atomically or repeatable, and the reads that check
// them.

// checkInPlace refuses a journal whose headers cannot be swapped in place.
func (j *journal) checkInPlace() error {
	if int64(len(j.NewHeader)) != j.OldHeaderLen || int64(len(j.OldHeader)) != j.OldHeaderLen {
		return fmt.Errorf("rewrap journal of %s: new header is %d bytes, old %d: cannot rewrite in place", j.Object, len(j.NewHeader), j.OldHeaderLen)
	}
	return nil
}

// rewriteInPlace writes the journal's new header over the old one (same
// length) and syncs. A torn write is repaired by the next resume, which
// writes it again.
func rewriteInPlace(ctx context.Context, b blob.Backend, j *journal) error {
	if err := j.checkInPlace(); err != nil {
		return err
	}
	fb, ok := b.(*blob.File)
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
		return fmt.Errorf("rewriting the header of %s: %w", b.URL(j.Object), err)
	}
	return nil
}

// inPlaceMatches checks that the object is the one the journal was written
// for: its header is the journal's old one, or a torn write of the new one
// over it (each byte one or the other), and the new header over its
// payload has the digest want and the journal's size. An in-place rewrap
// keeps the payload, so the header is what tells an old journal (A to B,
// put back after B to C) from this object's.
func inPlaceMatches(ctx context.Context, b blob.Backend, j *journal, want manifest.Digest) error {
	if err := j.checkInPlace(); err != nil {
		return err
	}
	h, err := manifest.NewHash(want.Algorithm)
	if err != nil {
		return err
	}
	rc, err := b.Open(ctx, j.Object)
	if err != nil {
		return err
	}
	defer rc.Close()
	notFor := fmt.Errorf("%s is not the object its rewrap journal was written for (an old journal put back, or the object changed since): not touched; check the backup with sluice backups verify, then remove its journal (%s)", b.URL(j.Object), "NAME"+journalSuffix)
	head := make([]byte, j.OldHeaderLen)
	if _, err := io.ReadFull(rc, head); err != nil {
		return fmt.Errorf("reading %s: %w", b.URL(j.Object), err)
	}
	for i, c := range head {
		if c != j.OldHeader[i] && c != j.NewHeader[i] {
			return notFor
		}
	}
	h.Write(j.NewHeader)
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("reading %s: %w", b.URL(j.Object), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex || int64(len(j.NewHeader))+n != j.NewSize {
		return notFor
	}
	return nil
}

// rewriteCopy writes the journal's new header and the unchanged payload as
// a new version of the object. The old header must be the journal's, and
// the new bytes must have the digest want, or the old version stays.
func rewriteCopy(ctx context.Context, b blob.Backend, j *journal, want manifest.Digest) error {
	h, err := manifest.NewHash(want.Algorithm)
	if err != nil {
		return err
	}
	return replace(ctx, b, j.Object, func(src io.Reader, w io.Writer) error {
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
	}, nil)
}

// reencrypt decrypts the object with ids and encrypts it with a new file
// key to rs, as a new version. The old bytes must have the digest old;
// journaled is called with the new digest (Bytes: the new size) between the
// new version's last byte and its commit, and must succeed for it.
func reencrypt(ctx context.Context, b blob.Backend, name string, old manifest.Digest, ids []age.Identity, rs []age.Recipient, journaled func(manifest.Digest) error) (manifest.Digest, error) {
	alg := old.Algorithm
	hOld, err := manifest.NewHash(alg)
	if err != nil {
		return manifest.Digest{}, err
	}
	hNew, _ := manifest.NewHash(alg)
	n := streamio.NewWriter(io.Discard)
	var d manifest.Digest
	err = replace(ctx, b, name, func(src io.Reader, w io.Writer) error {
		pr, err := age.Decrypt(io.TeeReader(src, hOld), ids...)
		if err != nil {
			return fmt.Errorf("decrypting: %w", err)
		}
		aw, err := age.Encrypt(io.MultiWriter(w, hNew, n), rs...)
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
		if got := hex.EncodeToString(hOld.Sum(nil)); got != old.Hex {
			return fmt.Errorf("its bytes changed while they were re-encrypted (%s:%s, want %s): not touched", alg, got, old)
		}
		return nil
	}, func() error {
		d = manifest.Digest{Algorithm: alg, Hex: hex.EncodeToString(hNew.Sum(nil)), Bytes: n.N()}
		return journaled(d)
	})
	return d, err
}

// replace writes a new version of the object through the backend's atomic
// commit: until Commit, the old version stays. before, when not nil, must
// succeed between the new version's last byte and its commit.
func replace(ctx context.Context, b blob.Backend, name string, fill func(src io.Reader, w io.Writer) error, before func() error) error {
	rc, err := b.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := b.Create(ctx, name, blob.CreateOptions{Overwrite: true})
	if err != nil {
		return err
	}
	if err := fill(rc, w); err != nil {
		return errors.Join(fmt.Errorf("writing the new %s: %w", b.URL(name), err), w.Abort())
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
func headerState(ctx context.Context, b blob.Backend, j *journal, base *manifest.Manifest) (headerCheck, error) {
	alg := base.Digest.Algorithm
	hOld, err := manifest.NewHash(alg)
	if err != nil {
		return headerCheck{}, err
	}
	hNew, _ := manifest.NewHash(alg)
	rc, err := b.Open(ctx, j.Object)
	if err != nil {
		return headerCheck{}, err
	}
	defer rc.Close()
	cur := make([]byte, j.OldHeaderLen)
	if _, err := io.ReadFull(rc, cur); err != nil {
		return headerCheck{}, fmt.Errorf("reading the header of %s: %w", b.URL(j.Object), err)
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
		return headerCheck{}, fmt.Errorf("digesting %s: %w", b.URL(j.Object), err)
	}
	return headerCheck{
		pending:   hex.EncodeToString(hOld.Sum(nil)) == base.Digest.Hex && (base.StoredBytes == 0 || base.StoredBytes == int64(len(j.OldHeader))+n),
		newDigest: manifest.Digest{Algorithm: alg, Hex: hex.EncodeToString(hNew.Sum(nil))},
		newSize:   int64(len(j.NewHeader)) + n,
	}, nil
}

// localFile returns the file-system path of a file:// object.
func localFile(b blob.Backend, name string) (string, bool) {
	if _, ok := b.(*blob.File); !ok {
		return "", false
	}
	return strings.CutPrefix(b.URL(name), "file://")
}

// hasPrefix reports whether the object starts with prefix.
func hasPrefix(ctx context.Context, b blob.Backend, name string, prefix []byte) (bool, error) {
	rc, err := b.Open(ctx, name)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	got := make([]byte, len(prefix))
	if _, err := io.ReadFull(rc, got); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	return bytes.Equal(got, prefix), nil
}

// opensWith checks that ids open the object's header (nil when they do).
func opensWith(ctx context.Context, b blob.Backend, name string, ids []age.Identity) error {
	rc, err := b.Open(ctx, name)
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
