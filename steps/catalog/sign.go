package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// AdoptOptions tune AdoptUnsigned.
type AdoptOptions struct {
	// Store signs (its active signing key) and opens (its identities) the
	// backups.
	Store *keys.Dir
	// Force signs backups that look younger than the store's first
	// signing key (see AdoptUnsigned).
	Force bool
	RunID string // for the verify records
}

// AdoptResult says what became of one unsigned backup.
type AdoptResult struct {
	Name     string       `json:"name"`
	URL      string       `json:"url"`
	Signed   bool         `json:"signed"`
	SignedBy string       `json:"signed_by,omitempty"`
	Verify   VerifyResult `json:"verify"`
	Error    string       `json:"error,omitempty"`
}

// AdoptUnsigned signs the unsigned backups under b that which selects
// ("all" or one name), each only after a content-level verify (decrypted
// and decompressed to the end with the store's keys; its record is
// written) of exactly the manifest bytes it then signs. Signed backups are
// left alone. A backup whose object or manifest claims a time after the
// store's first signing key was made is refused without opts.Force: it was
// written when backups were already signed, so it may be a forgery (on
// s3:// the object's time is set by the server, not by whoever wrote it).
// A content verify proves the backup opens with the store's keys and holds
// what its manifest says, not who made it: adopt only backups known to be
// yours.
func AdoptUnsigned(ctx context.Context, b blob.Backend, which string, opts AdoptOptions) ([]AdoptResult, error) {
	signer, err := opts.Store.Signer()
	if err != nil {
		return nil, err
	}
	verifier, err := opts.Store.Verifier()
	if err != nil {
		return nil, err
	}
	since := firstSigningKey(opts.Store)
	trust := Trust{Verifier: verifier, AllowUnsigned: true}
	vopts := VerifyOptions{Keys: DirKeys(opts.Store.Path()), Trust: trust, Record: true, RunID: opts.RunID}
	c, err := Read(ctx, b, trust)
	if err != nil {
		return nil, err
	}
	var out []AdoptResult
	for i := range c.Backups {
		bk := &c.Backups[i]
		if bk.Signature.State != SignatureUnsigned || (which != "all" && which != bk.Name) {
			continue
		}
		r := AdoptResult{Name: bk.Name, URL: bk.URL}
		if err := adoptOne(ctx, b, bk, signer, opts.Store, since, opts.Force, vopts, &r); err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		if bk, ok := c.Find(which); ok {
			return nil, fmt.Errorf("%s is already signed (%s)", bk.URL, bk.Signature)
		}
		if which != "all" {
			return nil, fmt.Errorf("no backup named %q under %s", which, c.Root)
		}
	}
	return out, nil
}

// adoptOne signs one unsigned backup after a content check (see
// AdoptUnsigned).
func adoptOne(ctx context.Context, b blob.Backend, bk *Backup, signer *signing.Signer, store *keys.Dir, since time.Time, force bool, vopts VerifyOptions, r *AdoptResult) error {
	signed, err := ReadManifest(ctx, b, bk.Name, vopts.Trust)
	if err != nil {
		return err
	}
	if signed.Signature.State != SignatureUnsigned {
		return errors.New("it was signed meanwhile: nothing to do")
	}
	if !force && !since.IsZero() && (signed.Manifest.Created.After(since) || bk.Object.ModTime.After(since)) {
		return fmt.Errorf("it was written after the store's first signing key (%s), when backups were already signed: an unsigned one from then may be forged; check it and pass --force to sign it anyway", since.UTC().Format(time.RFC3339))
	}
	r.Verify = VerifyBackup(ctx, b, bk, vopts)
	if !r.Verify.OK {
		return fmt.Errorf("content verify failed: %s", r.Verify.Error)
	}
	if r.Verify.Level != LevelContent {
		return fmt.Errorf("verified at %s level only (%s): signing needs a content verify", r.Verify.Level, r.Verify.Note)
	}
	// A manifest without an encrypt stage is "verified" without any key:
	// anyone who can write the folder can make one (a plaintext dump).
	if len(r.Verify.KeyIDs) == 0 {
		return errors.New("no key of the store opened it (its manifest records no encryption): only backups the store's keys open can be adopted")
	}
	for _, id := range r.Verify.KeyIDs {
		k, err := store.Key(id)
		if err != nil {
			return err
		}
		if !force && !since.IsZero() && !k.Created.Before(since) {
			return fmt.Errorf("it opens with key %s, made after the store's first signing key (%s), when backups were already signed: an unsigned one may be forged; check it and pass --force to sign it anyway", id, since.UTC().Format(time.RFC3339))
		}
	}
	// The verify read the manifest again: it must still be the bytes that
	// are signed now.
	again, err := ReadManifest(ctx, b, bk.Name, vopts.Trust)
	if err != nil {
		return err
	}
	if !bytes.Equal(again.Raw, signed.Raw) {
		return errors.New("its manifest changed while it was verified: not signed")
	}
	sig, err := signer.Sign(signed.Raw, signing.ManifestNamespace)
	if err != nil {
		return err
	}
	if err := b.Put(ctx, manifest.SignatureName(bk.Name), sig, blob.CreateOptions{}); err != nil {
		return fmt.Errorf("writing the signature: %w", err)
	}
	r.Signed, r.SignedBy = true, signer.ID
	return nil
}

// firstSigningKey is when the store's first signing key was made.
func firstSigningKey(d *keys.Dir) time.Time {
	var t time.Time
	for _, k := range d.SigningKeys() {
		if t.IsZero() || k.Created.Before(t) {
			t = k.Created
		}
	}
	return t
}
