package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/signing"
)

// Ways a backup is moved to the new key.
const (
	applyInPlace   = "in-place"  // file://, same-size header rewritten in place
	applyCopy      = "copy"      // new header, payload copied unchanged
	applyReencrypt = "reencrypt" // decrypted and encrypted with a new file key
)

// rewrapper moves the backups under one destination to a store's active key
// and signs their new manifests with the store's active signing key. It
// reads every manifest and journal through the store's verification keys.
type rewrapper struct {
	b       blob.Backend
	mode    string // "rewrap" or "reencrypt"
	verify  string // "first-chunk", "full" or "none"
	all     []age.Identity
	retired []age.Identity
	current []age.Identity
	rs      []age.Recipient
	active  keys.KeyInfo
	// retiredIDs are the key ids whose backups must move; storeIDs every
	// key id of the store.
	retiredIDs, storeIDs map[string]bool
	signer               *signing.Signer
	verifier             *signing.Verifier
	trust                catalog.Trust
	// hook, set by tests, is called after each durable step; an error stops
	// the backup there as a crash would (nothing is cleaned up).
	hook func(point string) error
}

// rewrapResult counts what a rewrap did.
type rewrapResult struct {
	Rewrapped, Skipped []string
	Failed             []string // "url: error"
	InPlace, Copied    int
	StillOnRetired     []string
}

// newRewrapper prepares a rewrap of the backups under b with the store d.
// With allowUnsigned, backups without a signature are moved too, and so
// adopted: their new manifests are signed.
func newRewrapper(b blob.Backend, d *keys.Dir, mode, verify string, allowUnsigned bool) (*rewrapper, error) {
	ids, infos, err := d.Identities()
	if err != nil {
		return nil, err
	}
	rs, act, err := d.Recipients()
	if err != nil {
		return nil, err
	}
	signer, err := d.Signer()
	if err != nil {
		return nil, err
	}
	verifier, err := d.Verifier()
	if err != nil {
		return nil, err
	}
	r := &rewrapper{b: b, mode: mode, verify: verify, all: ids, rs: rs, active: act[0], retiredIDs: map[string]bool{}, storeIDs: map[string]bool{},
		signer: signer, verifier: verifier, trust: catalog.Trust{Verifier: verifier, AllowUnsigned: allowUnsigned}}
	for _, k := range d.Keys() {
		r.storeIDs[k.ID] = true
	}
	for i, k := range infos {
		if k.ID == r.active.ID {
			r.current = append(r.current, ids[i])
			continue
		}
		r.retired = append(r.retired, ids[i])
		r.retiredIDs[k.ID] = true
	}
	return r, nil
}

func (r *rewrapper) point(p string) error {
	if r.hook == nil {
		return nil
	}
	return r.hook(p)
}

// needsMove reports whether a backup is encrypted to a retired key of ours.
func (r *rewrapper) needsMove(bk storedBackup) bool {
	return slices.ContainsFunc(bk.KeyIDs, func(id string) bool { return r.retiredIDs[id] })
}

// run moves every backup that needs it, finishing interrupted ones first.
func (r *rewrapper) run(ctx context.Context) (rewrapResult, error) {
	var res rewrapResult
	backups, err := r.backups(ctx)
	if err != nil {
		return res, err
	}
	for _, bk := range backups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		url := r.b.URL(bk.Object)
		j, err := r.readJournal(ctx, bk.Object)
		switch {
		case err != nil:
		case j != nil:
			err = r.resume(ctx, bk, j)
		case !r.needsMove(bk):
			res.Skipped = append(res.Skipped, url)
			continue
		default:
			j, err = r.move(ctx, bk)
		}
		if err == nil && r.verify != "none" {
			err = r.check(ctx, bk.Object)
		}
		if err != nil {
			res.Failed = append(res.Failed, url+": "+err.Error())
			continue
		}
		res.Rewrapped = append(res.Rewrapped, url)
		if j.Apply == applyInPlace {
			res.InPlace++
		} else {
			res.Copied++
		}
	}
	after, err := r.backups(ctx)
	if err != nil {
		return res, err
	}
	for _, bk := range after {
		if r.needsMove(bk) {
			res.StillOnRetired = append(res.StillOnRetired, r.b.URL(bk.Object))
		}
	}
	return res, nil
}

// backups lists the destination through the signature gate. A manifest
// the gate refuses is an error (a rotation must not go ahead while a
// backup's key needs are unknown), unless its backup has a rewrap journal:
// a crash between the new signature and the new manifest leaves them
// apart, and the journal (signed, carrying the signed manifest from before)
// finishes the move.
func (r *rewrapper) backups(ctx context.Context) ([]storedBackup, error) {
	c, err := catalog.Read(ctx, r.b, r.trust)
	if err != nil {
		return nil, err
	}
	var out []storedBackup
	for _, bk := range c.Backups {
		out = append(out, storedBackup{Object: bk.Name, KeyIDs: bk.KeyIDs, Signature: bk.Signature})
	}
	var bad []string
	for _, p := range c.Problems {
		obj := strings.TrimSuffix(p.Manifest, manifestSuffix)
		if p.Kind == catalog.ProblemSignature {
			if _, err := r.b.Stat(ctx, obj+journalSuffix); err == nil {
				out = append(out, storedBackup{Object: obj})
				continue
			}
		}
		bad = append(bad, p.URL+": "+p.Detail)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("untrusted manifests: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// move plans the switch of one backup, journals it and carries it out. The
// manifest is read again through the signature gate, and for a rewrap the
// object's bytes are checked against its signed digest before the journal
// is written: only bytes a signed manifest vouches for get a new signature.
func (r *rewrapper) move(ctx context.Context, bk storedBackup) (*rewrapJournal, error) {
	signed, err := catalog.ReadManifest(ctx, r.b, bk.Object, r.trust)
	if err != nil {
		return nil, err
	}
	if signed.Manifest.Digest == nil {
		return nil, errors.New("its manifest records no digest: nothing vouches for its bytes; not moved")
	}
	j := &rewrapJournal{Object: bk.Object, KeyIDs: []string{r.active.ID}, Recipients: []string{r.active.Recipient},
		Manifest: signed.Raw, ManifestSig: signed.Sig}
	rc, err := r.b.Open(ctx, bk.Object)
	if err != nil {
		return nil, err
	}
	h, n, err := agefile.Parse(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the age header: %w", err)
	}
	j.OldHeaderLen = n
	fk, err := agefile.Unwrap(h, r.all...)
	if err != nil {
		return nil, fmt.Errorf("opening the header with the store's keys: %w", err)
	}
	defer clear(fk)
	if r.mode == "reencrypt" {
		j.Apply = applyReencrypt
	} else {
		nh, err := agefile.Wrap(fk, r.rs...)
		if err != nil {
			return nil, err
		}
		_, local := localFile(r.b, bk.Object)
		if local && agefile.Pad(nh, fk, int(n)) == nil {
			j.Apply = applyInPlace
		} else {
			j.Apply = applyCopy
		}
		if j.NewHeader, err = nh.Marshal(); err != nil {
			return nil, err
		}
		st, err := r.headerState(ctx, j, signed.Manifest)
		if err != nil {
			return nil, err
		}
		if !st.pending {
			return nil, fmt.Errorf("its bytes do not match the digest its signed manifest records (%s): not moved; run sluice backups verify", signed.Manifest.Digest)
		}
		j.NewDigest, j.NewSize = st.newDigest.String(), st.newSize
	}
	if err := r.writeJournal(ctx, j); err != nil {
		return nil, err
	}
	if err := r.point("journaled"); err != nil {
		return nil, err
	}
	return j, r.resume(ctx, bk, j)
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
