package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/sluice-dev/sluice/steps/blob"
)

// RecordSuffix ends the name of a verify record: NAME.verified.json next to
// the object NAME and its manifest.
const RecordSuffix = ".verified.json"

// Verification levels a Record states.
const (
	// LevelDigest: the stored bytes match the manifest's (and the sidecar's)
	// digest; the content was not opened (no key was given).
	LevelDigest = "digest"
	// LevelContent: in addition, the stream was decrypted and decompressed
	// to its end, proving the age authentication tags and the compression
	// frames, and the plaintext size matched the manifest.
	LevelContent = "content"
)

// Record is written by a successful verify next to the backup. A backup is
// verified while its record's digest equals its manifest's digest: a
// rewritten object (a key rotation's rewrap) needs a new verify.
type Record struct {
	FormatVersion  int       `json:"format_version"`
	Object         string    `json:"object"`
	Digest         string    `json:"digest"` // "algorithm:hex", as in the manifest
	Level          string    `json:"level"`
	Verified       time.Time `json:"verified"`
	RunID          string    `json:"run_id,omitempty"`
	KeyIDs         []string  `json:"key_ids,omitempty"` // keys that opened it (content level)
	PlaintextBytes int64     `json:"plaintext_bytes,omitempty"`
	// Signature is how the manifest passed the signature gate (signed, or
	// unsigned / unchecked when allowed); SignedBy the key that checked it.
	Signature string `json:"signature,omitempty"`
	SignedBy  string `json:"signed_by,omitempty"`
}

// RecordName returns the name of an object's verify record.
func RecordName(object string) string { return object + RecordSuffix }

// Matches tells whether the record vouches for bk as its manifest describes
// it now.
func (r *Record) Matches(bk *Backup) bool {
	d := bk.Summary.Digest
	return r.Object == path.Base(bk.Name) && d != nil && r.Digest == d.String() &&
		(r.Level == LevelDigest || r.Level == LevelContent)
}

// ReadRecord reads the verify record of object.
func ReadRecord(ctx context.Context, b blob.Backend, object string) (*Record, error) {
	data, err := ReadSmall(ctx, b, RecordName(object))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("verify record %s: %w", b.URL(RecordName(object)), err)
	}
	if r.FormatVersion != 1 {
		return nil, fmt.Errorf("verify record %s has format_version %d: this sluice reads version 1", b.URL(RecordName(object)), r.FormatVersion)
	}
	return &r, nil
}

// WriteRecord stores r as the verify record of object, replacing an older
// one.
func WriteRecord(ctx context.Context, b blob.Backend, object string, r Record) error {
	r.FormatVersion = 1
	r.Object = path.Base(object)
	r.Verified = r.Verified.UTC()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding verify record: %w", err)
	}
	if err := b.Put(ctx, RecordName(object), append(data, '\n'), blob.CreateOptions{Overwrite: true}); err != nil {
		return fmt.Errorf("writing verify record: %w", err)
	}
	return nil
}

// RemoveRecord removes object's verify record, if any: a backup that failed
// verification must not count as verified.
func RemoveRecord(ctx context.Context, b blob.Backend, object string) error {
	err := b.Remove(ctx, RecordName(object))
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("removing the stale verify record: %w", err)
	}
	return nil
}
