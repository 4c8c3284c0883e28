package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/signing"
)

// journalSuffix names a backup's rewrap journal, next to its object
// (steps/catalog knows it too, to tell it from a backup).
const journalSuffix = ".rewrap-journal.json"

// journalFormat marks a signed journal file.
const journalFormat = "sluice-rewrap-journal/2"

// Ways a backup is moved to the new key.
const (
	applyInPlace   = "in-place"  // file://, same-size header rewritten in place
	applyCopy      = "copy"      // new header, payload copied unchanged
	applyReencrypt = "reencrypt" // decrypted and encrypted with a new file key
)

// journal is written (atomically, signed with the store's signing key)
// before a backup's object changes and removed after its manifest agrees
// again. A rerun that finds it finishes the switch: every step rolls
// forward. It holds only public data: headers (wrapped file keys) and the
// manifest as it was signed before the move.
type journal struct {
	Object       string   `json:"object"`
	Apply        string   `json:"apply"`
	OldHeaderLen int64    `json:"old_header_len"`
	OldHeader    []byte   `json:"old_header,omitempty"`
	NewHeader    []byte   `json:"new_header,omitempty"`
	KeyIDs       []string `json:"key_ids"`
	Recipients   []string `json:"recipients"`
	// Manifest and ManifestSig are the manifest before the move, exact
	// bytes, and its signature (absent for an unsigned backup adopted with
	// allow_unsigned): the base of the new manifest, checked again on resume.
	Manifest    []byte `json:"manifest"`
	ManifestSig []byte `json:"manifest_sig,omitempty"`
	// NewDigest is the object's digest after the move ("alg:hex"), known
	// before the object changes.
	NewDigest string `json:"new_digest,omitempty"`
	NewSize   int64  `json:"new_size,omitempty"`
	// Parts, for a backup in parts (Apply applyParts), are the journals
	// of its objects, in the manifest's order.
	Parts []journal `json:"parts,omitempty"`
}

// journalFile is what is stored: the journal's exact bytes and their
// signature.
type journalFile struct {
	Format    string `json:"format"`
	Body      []byte `json:"body"`
	Signature string `json:"signature"`
}

// checkHeaders proves that the journal's new header matches the object's
// old header under the store's keys: both open, with the store's
// identities all, to the same file key, and the new one is for a key of
// the store (storeIDs). A journal that does not is refused before anything
// is written.
func (j *journal) checkHeaders(all []age.Identity, storeIDs map[string]bool) error {
	if j.Apply == applyReencrypt {
		return nil // no header is carried over: the object is encrypted anew
	}
	if !slices.ContainsFunc(j.KeyIDs, func(id string) bool { return storeIDs[id] }) {
		return fmt.Errorf("rewrap journal of %s moves it to %v, not a key of this store: refusing to apply it", j.Object, j.KeyIDs)
	}
	old, _, err := agefile.Parse(bytes.NewReader(j.OldHeader))
	if err != nil {
		return fmt.Errorf("rewrap journal of %s: old header: %w", j.Object, err)
	}
	nh, _, err := agefile.Parse(bytes.NewReader(j.NewHeader))
	if err != nil {
		return fmt.Errorf("rewrap journal of %s: new header: %w", j.Object, err)
	}
	fkOld, err := agefile.Unwrap(old, all...)
	if err != nil {
		return fmt.Errorf("rewrap journal of %s: the store's keys do not open the old header: %w", j.Object, err)
	}
	defer clear(fkOld)
	fkNew, err := agefile.Unwrap(nh, all...)
	if err != nil {
		return fmt.Errorf("rewrap journal of %s: the store's keys do not open the journal's new header: refusing to apply it: %w", j.Object, err)
	}
	defer clear(fkNew)
	if !bytes.Equal(fkOld, fkNew) {
		return fmt.Errorf("rewrap journal of %s: its new header holds another file key than the object's: refusing to apply it", j.Object)
	}
	return nil
}

// journals reads and writes the signed journals under one destination.
type journals struct {
	b        blob.Backend
	signer   *signing.Signer
	verifier *signing.Verifier
}

// write signs j and stores it next to its object.
func (js journals) write(ctx context.Context, j *journal) error {
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	sig, err := js.signer.Sign(body, signing.JournalNamespace)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(journalFile{Format: journalFormat, Body: body, Signature: string(sig)}, "", "  ")
	if err != nil {
		return err
	}
	if err := js.b.Put(ctx, j.Object+journalSuffix, data, blob.CreateOptions{Overwrite: true}); err != nil {
		return fmt.Errorf("writing the rewrap journal: %w", err)
	}
	return nil
}

// read returns the journal of object once its signature checked out
// against the store's verification keys, or nil when there is none. A
// journal that does not verify is refused: it is never applied.
func (js journals) read(ctx context.Context, object string) (*journal, error) {
	url := js.b.URL(object + journalSuffix)
	data, err := catalog.ReadSmall(ctx, js.b, object+journalSuffix)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f journalFile
	if err := json.Unmarshal(data, &f); err != nil || f.Format != journalFormat {
		return nil, fmt.Errorf("rewrap journal %s is not a signed sluice journal: refusing to apply it; check the backup (sluice backups verify) and remove the journal by hand", url)
	}
	if _, err := js.verifier.Verify(f.Body, []byte(f.Signature), signing.JournalNamespace); err != nil {
		return nil, fmt.Errorf("rewrap journal %s: signature check against %s failed (%v): refusing to apply it; check the backup and remove the journal by hand", url, js.verifier.Describe(), err)
	}
	var j journal
	if err := json.Unmarshal(f.Body, &j); err != nil || j.Object != object {
		return nil, fmt.Errorf("rewrap journal %s does not describe %s: refusing to apply it", url, object)
	}
	return &j, nil
}

// remove deletes the journal of object, if any.
func (js journals) remove(ctx context.Context, object string) error {
	if err := js.b.Remove(ctx, object+journalSuffix); err != nil && !errors.Is(err, blob.ErrNotExist) {
		return fmt.Errorf("removing the rewrap journal: %w", err)
	}
	return nil
}
