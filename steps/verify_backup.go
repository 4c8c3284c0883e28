package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// VerifyOptions tune VerifyBackup.
type VerifyOptions struct {
	// Decrypt opens encrypted backups (its Key names an entry of Keys, or it
	// lists identity files). Nil checks digests only for encrypted backups.
	Decrypt *Decrypt
	Keys    map[string]runner.KeyConfig
	// Trust is what manifests are checked against before anything else.
	Trust catalog.Trust
	// Record writes a verify record (NAME.verified.json) next to each backup
	// that passes and removes it from one that fails.
	Record bool
	RunID  string
	Logger hclog.Logger
}

// VerifyResult is the outcome of verifying one backup.
type VerifyResult struct {
	Name    string    `json:"name"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	OK      bool      `json:"ok"`
	// Level is catalog.LevelDigest or catalog.LevelContent when OK.
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
		"level": r.Level, "digest": r.Digest, "sidecar": r.Sidecar, "key_ids": ageList(r.KeyIDs),
		"stored_bytes": r.StoredBytes, "plaintext_bytes": r.PlaintextBytes, "note": r.Note, "error": r.Error,
		"signature": r.Signature, "signed_by": r.SignedBy,
	}
}

// VerifyBackup downloads one backup whose manifest passed the signature gate
// (bk comes from catalog.Read) and checks it: the stored bytes against
// the manifest's digest and the checksum sidecar's, then (with a key, when
// it is encrypted) decrypts and decompresses the stream to its end into
// io.Discard, proving age's authentication tags and the compression frames,
// and compares the plaintext size with the manifest's. No plaintext is
// written anywhere.
func VerifyBackup(ctx context.Context, b blob.Backend, bk *catalog.Backup, opts VerifyOptions) VerifyResult {
	res := VerifyResult{Name: bk.Name, URL: bk.URL, Created: bk.Created(), KeyIDs: []string{}, StoredBytes: bk.Object.Size,
		Signature: bk.Signature.State, SignedBy: bk.Signature.KeyID}
	for _, alg := range manifest.Algorithms {
		res.Sidecar = res.Sidecar || slices.Contains(bk.Related, manifest.SidecarName(bk.Name, alg))
	}
	err := verifyStream(ctx, b, bk, opts, &res)
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
		rec := catalog.Record{Digest: res.Digest, Level: res.Level, Verified: time.Now(), RunID: opts.RunID, KeyIDs: res.KeyIDs, PlaintextBytes: res.PlaintextBytes,
			Signature: res.Signature, SignedBy: res.SignedBy}
		if err := catalog.WriteRecord(ctx, b, bk.Name, rec); err != nil {
			res.OK, res.Error = false, fmt.Sprintf("verified at %s level, but %v", res.Level, err)
		}
	case notChecked(ctx, err):
		// Nothing was learnt about the backup: an earlier record stays.
		res.Error += " (not checked: its verify record left as it was)"
	default:
		if err := catalog.RemoveRecord(ctx, b, bk.Name); err != nil {
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
	var unread *unreadableError
	return ctx.Err() != nil || errors.As(err, &noKey) || errors.As(err, &unread)
}

// checkKeys loads the identities once before any backup is checked, so
// that a verify which could not open the backups (a key store or identity
// file that is missing) fails as a whole and changes no record.
func checkKeys(opts VerifyOptions, sel []*catalog.Backup) error {
	d := *opts.Decrypt
	for _, bk := range sel {
		for _, id := range bk.KeyIDs {
			if !slices.Contains(d.ExpectedKeyIDs, id) {
				d.ExpectedKeyIDs = append(d.ExpectedKeyIDs, id)
			}
		}
	}
	if len(d.ExpectedKeyIDs) == 0 {
		return nil // nothing selected is encrypted
	}
	_, err := d.identities(opts.Keys)
	return err
}

// verifyStream runs download -> [decrypt] -> [decompress] -> io.Discard.
func verifyStream(ctx context.Context, b blob.Backend, bk *catalog.Backup, opts VerifyOptions, res *VerifyResult) error {
	m, err := bk.LoadManifest(ctx, b, opts.Trust)
	if err != nil {
		return err
	}
	if m.Digest == nil {
		return fmt.Errorf("its manifest records no digest: nothing to verify the stored bytes against")
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	sc := &runner.StepContext{ID: "verify", Type: "verify", RunID: opts.RunID, Keys: opts.Keys, Logger: logger}
	xs, note := inverseChain(m, bk.KeyIDs, opts.Decrypt)
	res.Note = note
	outs, err := streamChain(ctx, sc, sourceOf(sc, b, bk.Name, m), xs)
	if err != nil {
		return err
	}
	src := outs[0]
	if v, _ := src["verified"].(bool); !v {
		return fmt.Errorf("no digest was checked: the manifest and sidecar record none")
	}
	res.Digest = fmt.Sprintf("%v:%v", src["digest_algorithm"], src["digest"])
	res.StoredBytes, _ = src["bytes"].(int64)
	res.Level = catalog.LevelDigest
	if note != "" {
		return nil
	}
	for _, o := range outs[1:] {
		if ids, ok := o["key_ids"].([]any); ok {
			for _, id := range ids {
				res.KeyIDs = append(res.KeyIDs, fmt.Sprint(id))
			}
		}
	}
	if len(xs) > 0 {
		res.PlaintextBytes, _ = outs[len(outs)-1]["bytes_out"].(int64)
	} else {
		res.PlaintextBytes = res.StoredBytes
	}
	if m.PlaintextBytes > 0 && res.PlaintextBytes != m.PlaintextBytes {
		return fmt.Errorf("content is %d bytes once opened, the manifest records %d: the backup does not hold what was dumped", res.PlaintextBytes, m.PlaintextBytes)
	}
	res.Level = catalog.LevelContent
	return nil
}

// inverseChain returns the transforms that undo the manifest's stages, last
// stage first. When one cannot be undone (an encrypted backup without a
// key, an unknown stage), it returns none and a note saying why the check
// stops at the digest.
func inverseChain(m *manifest.Manifest, keyIDs []string, dec *Decrypt) ([]runner.Transform, string) {
	var xs []runner.Transform
	for i := len(m.Stages) - 1; i >= 1; i-- {
		st := m.Stages[i]
		switch st.Type {
		case "checksum":
		case "encrypt":
			if dec == nil {
				return nil, "encrypted: give a key store or identity to check its content"
			}
			d := *dec
			d.ExpectedKeyIDs = keyIDs
			xs = append(xs, &d)
		case "compress":
			alg, _ := st.Outputs["algorithm"].(string)
			xs = append(xs, &Decompress{Algorithm: cmpOr(alg, AlgorithmAuto)})
		default:
			return nil, fmt.Sprintf("stage %q (%s) cannot be undone by verify: content not checked", st.ID, st.Type)
		}
	}
	return xs, ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// SelectBackups picks the backups to verify: "latest", "all" or one
// object's name. For "all" and for a name, a manifest whose object is
// missing or that cannot be read comes back as a failed result.
func SelectBackups(c *catalog.Catalog, which string) ([]*catalog.Backup, []VerifyResult, error) {
	var broken []VerifyResult
	for _, p := range c.Problems {
		name := p.Manifest[:len(p.Manifest)-len(manifestSuffix)]
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
		return []*catalog.Backup{bk}, nil, nil
	case "all":
		var out []*catalog.Backup
		for i := range c.Backups {
			out = append(out, &c.Backups[i])
		}
		if len(out) == 0 && len(broken) == 0 {
			return nil, nil, fmt.Errorf("no complete backup under %s: no object there has its manifest; run a backup first", c.Root)
		}
		return out, broken, nil
	}
	if bk, ok := c.Find(which); ok {
		return []*catalog.Backup{bk}, nil, nil
	}
	if len(broken) > 0 {
		return nil, broken, nil
	}
	return nil, nil, fmt.Errorf("no backup named %q under %s: give an object's name relative to the folder, as 'sluice backups list' prints it", which, c.Root)
}
