package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// VerifyOptions tune VerifyDest and VerifyBackup.
type VerifyOptions struct {
	// Keys open encrypted backups for the content check; nil checks
	// encrypted backups by digest only.
	Keys *Keys
	// Trust is what manifests are checked against before anything else.
	Trust Trust
	// Record writes a verify record (NAME.verified.json) next to each backup
	// that passes and removes it from one that fails.
	Record bool
	RunID  string
	// Logger logs each backup's outcome; nil logs nothing.
	Logger hclog.Logger
}

// VerifyResult is the outcome of verifying one backup.
type VerifyResult struct {
	Name    string    `json:"name"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	OK      bool      `json:"ok"`
	// Level is LevelDigest or LevelContent when OK.
	Level          string   `json:"level,omitempty"`
	Digest         string   `json:"digest,omitempty"`
	Sidecar        bool     `json:"sidecar"` // a checksum sidecar was checked as well
	KeyIDs         []string `json:"key_ids"` // keys that opened it
	StoredBytes    int64    `json:"stored_bytes"`
	PlaintextBytes int64    `json:"plaintext_bytes,omitempty"`
	// Signature is how the manifest passed the signature gate; SignedBy
	// the verification key that checked it.
	Signature string `json:"signature"`
	SignedBy  string `json:"signed_by,omitempty"`
	// Note says why the content was not checked, at digest level.
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
}

// Outputs renders the result as a step output value.
func (r VerifyResult) Outputs() map[string]any {
	return map[string]any{
		"name": r.Name, "url": r.URL, "created": r.Created.UTC().Format(time.RFC3339Nano), "ok": r.OK,
		"level": r.Level, "digest": r.Digest, "sidecar": r.Sidecar, "key_ids": runner.List(r.KeyIDs),
		"stored_bytes": r.StoredBytes, "plaintext_bytes": r.PlaintextBytes, "note": r.Note, "error": r.Error,
		"signature": r.Signature, "signed_by": r.SignedBy,
	}
}

// VerifyDest reads the catalogue of b through the signature gate
// (opts.Trust) and verifies the backups which selects (see SelectBackups),
// oldest first; a backup the gate refuses is a failed result. With keys,
// they are loaded before any backup is checked, so that a verify which
// could not open the backups (a key store or identity file that is
// missing) fails as a whole and changes no record.
func VerifyDest(ctx context.Context, b blob.Backend, which string, opts VerifyOptions) ([]VerifyResult, error) {
	c, err := Read(ctx, b, opts.Trust)
	if err != nil {
		return nil, err
	}
	sel, results, err := SelectBackups(c, which)
	if err != nil {
		return nil, err
	}
	if opts.Keys != nil {
		var need []string
		for _, bk := range sel {
			for _, id := range bk.KeyIDs {
				if !slices.Contains(need, id) {
					need = append(need, id)
				}
			}
		}
		if len(need) > 0 { // else nothing selected is encrypted
			if err := opts.Keys.Check(need); err != nil {
				return nil, err
			}
		}
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	for _, bk := range sel {
		r := VerifyBackup(ctx, b, bk, opts)
		if r.OK {
			log.Info("backup verified", "url", r.URL, "level", r.Level, "signed_by", r.SignedBy, "note", r.Note)
		} else {
			log.Error("backup failed verification", "url", r.URL, "error", r.Error)
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
	}
	return results, nil
}

// VerifyBackup checks one backup whose manifest passed the signature gate
// (bk comes from Read): the digest check of its stored bytes, then, with
// keys, when it is encrypted, the content check, which also compares the
// plaintext size with the manifest's. No plaintext is written anywhere.
func VerifyBackup(ctx context.Context, b blob.Backend, bk *Backup, opts VerifyOptions) VerifyResult {
	res := VerifyResult{Name: bk.Name, URL: bk.URL, Created: bk.Created(), KeyIDs: []string{}, StoredBytes: bk.Object.Size,
		Signature: bk.Signature.State, SignedBy: bk.Signature.KeyID}
	for _, alg := range manifest.Algorithms {
		res.Sidecar = res.Sidecar || slices.Contains(bk.Related, manifest.SidecarName(bk.Name, alg))
	}
	err := verifyBackup(ctx, b, bk, opts, &res)
	if err != nil {
		res.Error = err.Error()
	} else {
		res.OK = true
	}
	if !opts.Record {
		return res
	}
	switch {
	case res.OK:
		rec := Record{Digest: res.Digest, Level: res.Level, Verified: time.Now(), RunID: opts.RunID, KeyIDs: res.KeyIDs, PlaintextBytes: res.PlaintextBytes,
			Signature: res.Signature, SignedBy: res.SignedBy}
		if err := WriteRecord(ctx, b, bk.Name, rec); err != nil {
			res.OK, res.Error = false, fmt.Sprintf("verified at %s level, but %v", res.Level, err)
		}
	case notChecked(ctx, err):
		// Nothing was learnt about the backup: an earlier record stays.
		res.Error += " (not checked: its verify record left as it was)"
	default:
		if err := RemoveRecord(ctx, b, bk.Name); err != nil {
			res.Error += "; " + err.Error()
		}
	}
	return res
}

// notChecked reports whether err says the verify could not run rather than
// that the backup is bad: no key opened it, storage could not be read, or
// the verify was stopped.
func notChecked(ctx context.Context, err error) bool {
	var noKey *agefile.NoKeyError
	var noKeys *keysError
	var unread *unreadableError
	return ctx.Err() != nil || errors.As(err, &noKey) || errors.As(err, &noKeys) || errors.As(err, &unread)
}

// verifyBackup runs the digest check and, when it can, the content check.
func verifyBackup(ctx context.Context, b blob.Backend, bk *Backup, opts VerifyOptions, res *VerifyResult) error {
	m, err := bk.LoadManifest(ctx, b, opts.Trust)
	if err != nil {
		return err
	}
	if m.InParts() {
		return verifyParts(ctx, b, bk, m, opts, res)
	}
	if m.Digest == nil {
		return fmt.Errorf("its manifest records no digest: nothing to verify the stored bytes against")
	}
	obj, err := OpenChecked(ctx, markReads{b}, bk.Name, m)
	if err != nil {
		return err
	}
	defer obj.Close()
	undo, note := undoStages(m, opts.Keys != nil)
	res.Note = note
	c, err := checkContent(obj, undo, bk.KeyIDs, opts.Keys)
	if err != nil {
		return err
	}
	d, ok := obj.Digest()
	if !ok {
		return fmt.Errorf("no digest was checked: the manifest and sidecar record none")
	}
	res.Digest = d.String()
	res.StoredBytes = obj.Bytes()
	res.Level = LevelDigest
	if note != "" {
		return nil
	}
	res.KeyIDs = append(res.KeyIDs, c.keyIDs...)
	res.PlaintextBytes = c.bytes
	if m.PlaintextBytes > 0 && res.PlaintextBytes != m.PlaintextBytes {
		return fmt.Errorf("content is %d bytes once opened, the manifest records %d: the backup does not hold what was dumped", res.PlaintextBytes, m.PlaintextBytes)
	}
	res.Level = LevelContent
	return nil
}

// SelectBackups picks the backups to verify: "latest", "all" or one
// object's name. For "all" and for a name, a manifest whose object is
// missing or that cannot be read comes back as a failed result.
func SelectBackups(c *Catalog, which string) ([]*Backup, []VerifyResult, error) {
	var broken []VerifyResult
	for _, p := range c.Problems {
		name := p.Object()
		if which == "all" || which == name {
			broken = append(broken, VerifyResult{Name: name, URL: p.URL, KeyIDs: []string{}, Error: "manifest " + p.URL + ": " + p.Detail})
		}
	}
	switch which {
	case "", "latest":
		bk, ok := c.Latest()
		if !ok {
			return nil, nil, fmt.Errorf("no complete backup under %s: no object there has its manifest; run a backup first", c.Root)
		}
		return []*Backup{bk}, nil, nil
	case "all":
		var out []*Backup
		for i := range c.Backups {
			out = append(out, &c.Backups[i])
		}
		if len(out) == 0 && len(broken) == 0 {
			return nil, nil, fmt.Errorf("no complete backup under %s: no object there has its manifest; run a backup first", c.Root)
		}
		return out, broken, nil
	}
	if bk, ok := c.Find(which); ok {
		return []*Backup{bk}, nil, nil
	}
	if len(broken) > 0 {
		return nil, broken, nil
	}
	return nil, nil, fmt.Errorf("no backup named %q under %s: give an object's name relative to the folder, as 'sluice backups list' prints it", which, c.Root)
}

// VerifyOutputs renders results as the verify step's outputs.
func VerifyOutputs(results []VerifyResult) map[string]any {
	list := make([]any, 0, len(results))
	verified, content := 0, len(results) > 0
	for _, r := range results {
		list = append(list, r.Outputs())
		if r.OK {
			verified++
		}
		content = content && r.OK && r.Level == LevelContent
	}
	return map[string]any{
		"checked": int64(len(results)), "verified": int64(verified), "failed": int64(len(results) - verified),
		"content_verified": content, "backups": list,
	}
}

// VerifyError returns an error naming every backup that failed, nil when
// none did.
func VerifyError(results []VerifyResult) error {
	var msgs []string
	for _, r := range results {
		switch {
		case r.OK:
		case strings.Contains(r.Error, r.URL):
			msgs = append(msgs, r.Error)
		default:
			msgs = append(msgs, r.URL+": "+r.Error)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d backup(s) failed verification: %s", len(msgs), len(results), strings.Join(msgs, "; "))
}

// unreadableError is a failure to read storage (not a missing object): the
// backup could not be checked.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string { return e.err.Error() }
func (e *unreadableError) Unwrap() error { return e.err }

// markReads is a backend whose opens and reads report their failures as
// *unreadableError, except a missing object, which is a finding.
type markReads struct{ blob.Backend }

func (m markReads) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := m.Backend.Open(ctx, name)
	if err != nil {
		if errors.Is(err, blob.ErrNotExist) {
			return nil, err
		}
		return nil, &unreadableError{err}
	}
	return markedReader{rc}, nil
}

type markedReader struct{ io.ReadCloser }

func (r markedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &unreadableError{err}
	}
	return n, err
}
