// Package rotation moves the backups under a destination onto a key
// store's active key after a rotation: by header re-wrap (the payload does
// not change) or by re-encryption with a new file key. Every move is
// journaled (a signed journal next to the object) so that a crash at any
// point is finished by the next run, and every new manifest is signed with
// the store's active signing key. It also says which backups need which
// key (BackupsByKey), so that a retired key is not destroyed while a
// backup needs it.
package rotation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// Modes of moving a backup (Options.Mode).
const (
	ModeRewrap    = "rewrap"    // new header, payload unchanged
	ModeReencrypt = "reencrypt" // new file key, for a compromised key
)

// Checks of a moved backup (Options.Verify).
const (
	VerifyFirstChunk = "first-chunk" // the active key decrypts the first chunk
	VerifyFull       = "full"        // the active key decrypts all of it
	VerifyNone       = "none"
)

// Options say how a Rewrapper moves backups.
type Options struct {
	Mode   string // ModeRewrap (when empty) or ModeReencrypt
	Verify string // VerifyFirstChunk (when empty), VerifyFull or VerifyNone
	// AllowUnsigned moves backups whose manifest is not signed too, and so
	// adopts them: their new manifests are signed.
	AllowUnsigned bool
	// Warn, when not nil, logs each unsigned backup accepted
	// (hclog.Logger.Warn fits).
	Warn func(msg string, args ...any)
}

// Rewrapper moves the backups under one destination to a store's active
// key and signs their new manifests with the store's active signing key. It
// reads every manifest and journal through the store's verification keys.
type Rewrapper struct {
	b       blob.Backend
	mode    string
	verify  string
	all     []age.Identity
	retired []age.Identity
	current []age.Identity
	rs      []age.Recipient
	active  keys.KeyInfo
	// retiredIDs are the key ids whose backups must move; storeIDs every
	// key id of the store.
	retiredIDs, storeIDs map[string]bool
	journals             journals
	trust                catalog.Trust
	// hook, set by tests, is called after each durable step; an error stops
	// the backup there as a crash would (nothing is cleaned up).
	hook func(point string) error
}

// Result counts what a run did. Backups are named by URL.
type Result struct {
	// Found counts the backups under the destination (those whose
	// manifest passed the signature gate, and interrupted moves).
	Found              int
	Rewrapped, Skipped []string
	Failed             []string // "url: error"
	InPlace, Copied    int
	StillOnRetired     []string
}

// New prepares the move of the backups under b with the store d, whose
// active key is the one to move to.
func New(b blob.Backend, d *keys.Dir, opts Options) (*Rewrapper, error) {
	mode, verify := cmp.Or(opts.Mode, ModeRewrap), cmp.Or(opts.Verify, VerifyFirstChunk)
	if mode != ModeRewrap && mode != ModeReencrypt {
		return nil, fmt.Errorf("mode %q is unknown: use %s or %s", mode, ModeRewrap, ModeReencrypt)
	}
	if !slices.Contains([]string{VerifyFirstChunk, VerifyFull, VerifyNone}, verify) {
		return nil, fmt.Errorf("verify %q is unknown: use %s, %s or %s", verify, VerifyFirstChunk, VerifyFull, VerifyNone)
	}
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
	r := &Rewrapper{b: b, mode: mode, verify: verify, all: ids, rs: rs, active: act[0], retiredIDs: map[string]bool{}, storeIDs: map[string]bool{},
		journals: journals{b: b, signer: signer, verifier: verifier},
		trust:    catalog.Trust{Verifier: verifier, AllowUnsigned: opts.AllowUnsigned, Warn: opts.Warn}}
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

// Pending returns the URLs of the backups encrypted to a retired key of the
// store: what Run would move. It changes nothing.
func (r *Rewrapper) Pending(ctx context.Context) ([]string, error) {
	res, err := r.Survey(ctx)
	return res.StillOnRetired, err
}

// Survey says what Run would find, changing nothing: Found and
// StillOnRetired (the backups Run would move).
func (r *Rewrapper) Survey(ctx context.Context) (Result, error) {
	backups, err := r.backups(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Found: len(backups)}
	for _, bk := range backups {
		if r.needsMove(bk) {
			res.StillOnRetired = append(res.StillOnRetired, r.b.URL(bk.Object))
		}
	}
	return res, nil
}

// Run moves every backup that needs it, finishing interrupted ones first.
// A backup that cannot be moved is counted in Result.Failed; the error is
// for the destination as a whole (it cannot be listed, or a manifest there
// cannot be trusted).
func (r *Rewrapper) Run(ctx context.Context) (Result, error) {
	var res Result
	backups, err := r.backups(ctx)
	if err != nil {
		return res, err
	}
	res.Found = len(backups)
	for _, bk := range backups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		url := r.b.URL(bk.Object)
		j, err := r.journals.read(ctx, bk.Object)
		switch {
		case err != nil:
		case j != nil:
			err = r.resume(ctx, j, true)
		case !r.needsMove(bk):
			res.Skipped = append(res.Skipped, url)
			continue
		default:
			j, err = r.move(ctx, bk)
		}
		if err == nil && r.verify != VerifyNone {
			for _, name := range j.objects() {
				if err = r.check(ctx, name); err != nil {
					break
				}
			}
		}
		if err != nil {
			res.Failed = append(res.Failed, url+": "+err.Error())
			continue
		}
		res.Rewrapped = append(res.Rewrapped, url)
		if j.inPlace() {
			res.InPlace++
		} else {
			res.Copied++
		}
	}
	res.StillOnRetired, err = r.Pending(ctx)
	return res, err
}

func (r *Rewrapper) point(p string) error {
	if r.hook == nil {
		return nil
	}
	return r.hook(p)
}

// needsMove reports whether a backup is encrypted to a retired key of ours.
func (r *Rewrapper) needsMove(bk storedBackup) bool {
	return slices.ContainsFunc(bk.KeyIDs, func(id string) bool { return r.retiredIDs[id] })
}

// backups lists the destination through the signature gate. A manifest
// the gate refuses is an error (a rotation must not go ahead while a
// backup's key needs are unknown), unless its backup has a rewrap journal:
// a crash between the new signature and the new manifest leaves them
// apart, and the journal (signed, carrying the signed manifest from before)
// finishes the move.
func (r *Rewrapper) backups(ctx context.Context) ([]storedBackup, error) {
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
		obj := strings.TrimSuffix(p.Manifest, manifest.ManifestName(""))
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
func (r *Rewrapper) move(ctx context.Context, bk storedBackup) (*journal, error) {
	signed, err := catalog.ReadManifest(ctx, r.b, bk.Object, r.trust)
	if err != nil {
		return nil, err
	}
	j := &journal{Object: bk.Object, KeyIDs: []string{r.active.ID}, Recipients: []string{r.active.Recipient},
		Manifest: signed.Raw, ManifestSig: signed.Sig}
	if signed.Manifest.InParts() {
		if err := r.planParts(ctx, j, signed.Manifest); err != nil {
			return nil, err
		}
	} else {
		if signed.Manifest.Digest == nil {
			return nil, errors.New("its manifest records no digest: nothing vouches for its bytes; not moved")
		}
		if err := r.planObject(ctx, j, signed.Manifest); err != nil {
			return nil, err
		}
	}
	if err := r.journals.write(ctx, j); err != nil {
		return nil, err
	}
	if err := r.point("journaled"); err != nil {
		return nil, err
	}
	return j, r.resume(ctx, j, false)
}

// planObject plans the switch of one object, j.Object, whose manifest (or
// a part's view of its backup's) is base: it opens the header with the
// store's keys and, for a rewrap, makes the new header and checks the
// object's bytes against base's digest, recording the new digest.
func (r *Rewrapper) planObject(ctx context.Context, j *journal, base *manifest.Manifest) error {
	rc, err := r.b.Open(ctx, j.Object)
	if err != nil {
		return err
	}
	h, n, err := agefile.Parse(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("reading the age header: %w", err)
	}
	j.OldHeaderLen = n
	fk, err := agefile.Unwrap(h, r.all...)
	if err != nil {
		return fmt.Errorf("opening the header with the store's keys: %w", err)
	}
	defer clear(fk)
	if r.mode == ModeReencrypt {
		j.Apply = applyReencrypt
		return nil
	}
	nh, err := agefile.Wrap(fk, r.rs...)
	if err != nil {
		return err
	}
	_, local := localFile(r.b, j.Object)
	if local && agefile.Pad(nh, fk, int(n)) == nil {
		j.Apply = applyInPlace
	} else {
		j.Apply = applyCopy
	}
	if j.NewHeader, err = nh.Marshal(); err != nil {
		return err
	}
	st, err := headerState(ctx, r.b, j, base)
	if err != nil {
		return err
	}
	if !st.pending {
		return fmt.Errorf("its bytes do not match the digest its signed manifest records (%s): not moved; run sluice backups verify", base.Digest)
	}
	j.NewDigest, j.NewSize = st.newDigest.String(), st.newSize
	return nil
}

// resume carries out a journaled switch from wherever it stopped: object,
// then the new manifest's signature and the manifest, then the sidecar and
// the journal's removal. Each step checks what is already done, so it may
// run any number of times. The journal was authenticated by journals.read
// (or written just now); here the manifest it carries passes the signature
// gate again and its headers must match under the store's keys before
// anything is written. found says the journal was read from storage, not
// written just now: it may be an old one put back (see apply).
func (r *Rewrapper) resume(ctx context.Context, j *journal, found bool) error {
	base, err := r.trust.CheckSignature(r.b.URL(j.Object), j.Object, j.Manifest, j.ManifestSig, len(j.ManifestSig) > 0)
	if err != nil {
		return fmt.Errorf("rewrap journal: the manifest it carries: %w", err)
	}
	if j.Apply == applyParts {
		return r.resumeParts(ctx, j, base.Manifest, found)
	}
	if base.Manifest.Digest == nil {
		return errors.New("rewrap journal: the manifest it carries records no digest")
	}
	if err := j.checkHeaders(r.all, r.storeIDs); err != nil {
		return err
	}
	d, size, err := r.apply(ctx, j, base.Manifest, found)
	if err != nil {
		return err
	}
	if err := r.point("object"); err != nil {
		return err
	}
	m := movedManifest(base.Manifest, j)
	m.Digest, m.StoredBytes = &d, size
	return r.commitMove(ctx, j, m, map[string]manifest.Digest{j.Object: d})
}

// movedManifest copies base for its new version: the new key ids in its
// encrypt stages.
func movedManifest(base *manifest.Manifest, j *journal) *manifest.Manifest {
	m := *base
	m.Stages = append([]manifest.Stage(nil), base.Stages...)
	for i := range m.Stages {
		out := make(map[string]any, len(m.Stages[i].Outputs))
		for k, v := range m.Stages[i].Outputs {
			out[k] = v
		}
		m.Stages[i].Outputs = out
	}
	m.Parts = append([]manifest.Part(nil), base.Parts...)
	setManifestKeys(&m, j.KeyIDs, j.Recipients)
	return &m
}

// commitMove writes the moved backup's new manifest, signed, then the
// sidecars of its objects (by name, with their new digests) that have
// one, then removes the journal.
func (r *Rewrapper) commitMove(ctx context.Context, j *journal, m *manifest.Manifest, digests map[string]manifest.Digest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	sig, err := r.journals.signer.Sign(data, signing.ManifestNamespace)
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
	for _, name := range slices.Sorted(maps.Keys(digests)) {
		d := digests[name]
		side := manifest.SidecarName(name, d.Algorithm)
		if _, err := r.b.Stat(ctx, side); err == nil {
			if err := r.b.Put(ctx, side, manifest.Sidecar(d, name), opts); err != nil {
				return fmt.Errorf("writing the checksum sidecar: %w", err)
			}
		}
	}
	if err := r.point("sidecar"); err != nil {
		return err
	}
	return r.journals.remove(ctx, j.Object)
}

// apply changes the object unless it already carries the move, and returns
// the digest and size of its new bytes. The digest is never read back from
// the object: it was computed from bytes checked against the signed
// manifest, so the new signature vouches only for what was verified. A
// journal found in storage may be an old, genuinely signed one put back
// after the object moved on (a later re-encryption, a copy-mode move): its
// header written in place would then leave bytes no key opens, so the
// object must first be the one it was written for (inPlaceMatches).
func (r *Rewrapper) apply(ctx context.Context, j *journal, base *manifest.Manifest, found bool) (manifest.Digest, int64, error) {
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
			if found {
				if err := inPlaceMatches(ctx, r.b, j, d); err != nil {
					return d, j.NewSize, err
				}
			}
			return d, j.NewSize, rewriteInPlace(ctx, r.b, j)
		}
		return d, j.NewSize, rewriteCopy(ctx, r.b, j, d)
	case applyReencrypt:
		return r.applyReencrypt(ctx, j, base)
	}
	return manifest.Digest{}, 0, fmt.Errorf("rewrap journal has unknown apply %q", j.Apply)
}

// applyReencrypt re-encrypts the object unless its bytes already have the
// journal's new digest. The old bytes must have the signed manifest's
// digest; the new digest is journaled (signed) before the new version is
// committed.
func (r *Rewrapper) applyReencrypt(ctx context.Context, j *journal, base *manifest.Manifest) (manifest.Digest, int64, error) {
	cur, size, err := digestObject(ctx, r.b, j.Object, base.Digest.Algorithm)
	if err != nil {
		return manifest.Digest{}, 0, err
	}
	if j.NewDigest != "" && cur.String() == j.NewDigest {
		return cur, size, nil
	}
	if cur.Hex != base.Digest.Hex {
		return manifest.Digest{}, 0, fmt.Errorf("its bytes match neither its signed manifest (%s) nor the rewrap journal: not touched; run sluice backups verify", base.Digest)
	}
	d, err := reencrypt(ctx, r.b, j.Object, *base.Digest, r.all, r.rs, func(d manifest.Digest) error {
		j.NewDigest, j.NewSize = d.String(), d.Bytes
		return r.journals.write(ctx, j)
	})
	return d, d.Bytes, err
}

// check proves a moved backup: the active key decrypts its first chunk (or
// all of it with VerifyFull) and no retired key opens its header.
func (r *Rewrapper) check(ctx context.Context, name string) error {
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
	if r.verify == VerifyFull {
		limit = 1<<63 - 1
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(pr, limit)); err != nil {
		return fmt.Errorf("verify: decrypting with the active key: %w", err)
	}
	if len(r.retired) > 0 {
		if err := opensWith(ctx, r.b, name, r.retired); !errors.Is(err, age.ErrIncorrectIdentity) {
			return fmt.Errorf("verify: a retired key still opens the header (%v)", err)
		}
	}
	return nil
}
