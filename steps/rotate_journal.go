package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/signing"
)

// journalSuffix names a backup's rewrap journal, next to its object.
const journalSuffix = ".rewrap-journal.json"

// journalFormat marks a signed journal file.
const journalFormat = "sluice-rewrap-journal/2"

// rewrapJournal is written (atomically, signed with the store's signing
// key) before a backup's object changes and removed after its manifest
// agrees again. A rerun that finds it finishes the switch: every step rolls
// forward. It holds only public data: headers (wrapped file keys) and the
// manifest as it was signed before the move.
type rewrapJournal struct {
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
}

// journalFile is what is stored: the journal's exact bytes and their
// signature.
type journalFile struct {
	Format    string `json:"format"`
	Body      []byte `json:"body"`
	Signature string `json:"signature"`
}

// writeJournal signs j and stores it next to its object.
func (r *rewrapper) writeJournal(ctx context.Context, j *rewrapJournal) error {
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	sig, err := r.signer.Sign(body, signing.JournalNamespace)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(journalFile{Format: journalFormat, Body: body, Signature: string(sig)}, "", "  ")
	if err != nil {
		return err
	}
	if err := r.b.Put(ctx, j.Object+journalSuffix, data, blob.CreateOptions{Overwrite: true}); err != nil {
		return fmt.Errorf("writing the rewrap journal: %w", err)
	}
	return nil
}

// readJournal returns the journal of object once its signature checked out
// against the store's verification keys, or nil when there is none. A
// journal that does not verify is refused: it is never applied.
func (r *rewrapper) readJournal(ctx context.Context, object string) (*rewrapJournal, error) {
	url := r.b.URL(object + journalSuffix)
	data, err := catalog.ReadSmall(ctx, r.b, object+journalSuffix)
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
	if _, err := r.verifier.Verify(f.Body, []byte(f.Signature), signing.JournalNamespace); err != nil {
		return nil, fmt.Errorf("rewrap journal %s: signature check against %s failed (%v): refusing to apply it; check the backup and remove the journal by hand", url, r.verifier.Describe(), err)
	}
	var j rewrapJournal
	if err := json.Unmarshal(f.Body, &j); err != nil || j.Object != object {
		return nil, fmt.Errorf("rewrap journal %s does not describe %s: refusing to apply it", url, object)
	}
	return &j, nil
}

// checkHeaders proves that the journal's new header matches the object's
// old header under the store's keys: both open, with the store's
// identities, to the same file key, and the new one is for a key of this
// store. A journal that does not is refused before anything is written.
func (r *rewrapper) checkHeaders(j *rewrapJournal) error {
	if j.Apply == applyReencrypt {
		return nil // no header is carried over: the object is encrypted anew
	}
	if !slices.ContainsFunc(j.KeyIDs, func(id string) bool { return r.storeIDs[id] }) {
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
	fkOld, err := agefile.Unwrap(old, r.all...)
	if err != nil {
		return fmt.Errorf("rewrap journal of %s: the store's keys do not open the old header: %w", j.Object, err)
	}
	defer clear(fkOld)
	fkNew, err := agefile.Unwrap(nh, r.all...)
	if err != nil {
		return fmt.Errorf("rewrap journal of %s: the store's keys do not open the journal's new header: refusing to apply it: %w", j.Object, err)
	}
	defer clear(fkNew)
	if !bytes.Equal(fkOld, fkNew) {
		return fmt.Errorf("rewrap journal of %s: its new header holds another file key than the object's: refusing to apply it", j.Object)
	}
	return nil
}
