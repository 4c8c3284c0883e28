package steps

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/partset"
	"github.com/sluice-dev/sluice/steps/signing"
)

func uploadDefinition() runner.Definition {
	return runner.Definition{
		Type:     "upload",
		Kind:     runner.KindSink,
		Summary:  "Store the stream as one object (file://, a path or s3://), then its checksum sidecar and manifest, atomically",
		New:      func() any { return &Upload{} },
		Outcome:  uploadOutcome,
		Persists: true,
		Outputs: []runner.OutputSpec{
			{Name: "bytes", Type: "int", Doc: "bytes stored (over every part of a stream in parts)"},
			{Name: "url", Type: "string", Doc: "URL of the stored object; for a stream in parts (dump with jobs), of the backup: its manifest's name without .manifest.json, which sluice restore and download take"},
			{Name: "object", Type: "string", Doc: "name of the stored object in its folder (of the backup, for a stream in parts)"},
			{Name: "manifest", Type: "string", Doc: "URL of the manifest written next to the object"},
			{Name: "digest", Type: "string", Doc: "hex digest of the stored bytes (from the checksum step when there is one, else sha256); for a stream in parts, the SHA-256 of its parts' names and digests"},
			{Name: "parts", Type: "int", Doc: "objects stored for a stream in parts, each with its sidecar; absent for one stream", Conditional: true},
			{Name: "digest_algorithm", Type: "string", Doc: "algorithm of digest: sha256 or sha512"},
			{Name: "signature", Type: "string", Doc: "URL of the manifest's signature (NAME.manifest.json.sig); empty with unsigned: true"},
			{Name: "signed_by", Type: "string", Doc: "id of the signing key that signed the manifest; empty with unsigned: true"},
		},
	}
}

// uploadOutcome says where the committed object and its manifest are.
func uploadOutcome(o runner.Outputs) string {
	url := o.String("url")
	if url == "" {
		return ""
	}
	line := fmt.Sprintf("stored %s (%s)", url, runner.FormatBytes(o.Int("bytes")))
	if n := o.Int("parts"); n > 0 {
		line = fmt.Sprintf("stored %s in %d parts (%s)", url, n, runner.FormatBytes(o.Int("bytes")))
	}
	if m := o.String("manifest"); m != "" {
		line += ", manifest " + m
	}
	return line
}

// Upload is the parameter struct of the upload step: a sink that stores its
// stream under a temporary name and makes it visible on commit, followed by
// a checksum sidecar (when a checksum step feeds it) and the manifest.
type Upload struct {
	To             string         `yaml:"to" required:"true" doc:"URL of the object to write: file:///abs/path, file://./relative/path, a plain path, or s3://BUCKET/KEY (settings from the environment: see README)"`
	Overwrite      bool           `yaml:"overwrite" doc:"replace an existing object (and its sidecar and manifest)"`
	AllowPlaintext bool           `yaml:"allow_plaintext" doc:"allow storing a stream that is not encrypted"`
	SignWith       runner.KeyName `yaml:"sign_with" doc:"the plan's keys: entry whose signing key signs the manifest; default: the plan's only keys: entry, else the key store of the encrypt step feeding this upload"`
	Unsigned       bool           `yaml:"unsigned" doc:"write no signature (readers refuse the backup unless they allow unsigned backups); for copies that are not backups"`
	Dest           string         `yaml:"dest" doc:"folder URL of the backups this object belongs to (the folder to or one above it, e.g. the plan's dest param); recorded in the ledger of the encrypt step's key store, where rotate-key and keys destroy find it; default: the folder of to"`
}

var (
	_ runner.Sink             = (*Upload)(nil)
	_ runner.Validator        = (*Upload)(nil)
	_ runner.PlaintextAllower = (*Upload)(nil)
)

// AllowsPlaintext implements runner.PlaintextAllower.
func (u *Upload) AllowsPlaintext() bool { return u.AllowPlaintext }

// Validate checks that to names one object on a supported storage, inside
// dest when dest is set.
func (u *Upload) Validate() error {
	if _, _, err := blob.Open(u.To); err != nil {
		return err
	}
	_, err := u.destination()
	return err
}

// Consume writes the stream to a pending object, counting its sha256 on the
// way so that Commit can verify a checksum step's digest.
func (u *Upload) Consume(ctx context.Context, sc *runner.StepContext, r io.Reader) (runner.Outputs, runner.Pending, error) {
	b, name, err := blob.Open(u.To)
	if err != nil {
		return nil, nil, err
	}
	if !u.Overwrite {
		// Fail before streaming a whole backup when any of its files exists.
		for _, n := range []string{name, manifest.ManifestName(name), manifest.SignatureName(name), manifest.SidecarName(name, manifest.SHA256), manifest.SidecarName(name, manifest.SHA512)} {
			if _, err := b.Stat(ctx, n); err == nil {
				return nil, nil, existsHint(blob.ErrExist, b.URL(n))
			} else if !errors.Is(err, blob.ErrNotExist) {
				return nil, nil, err
			}
		}
	}
	// Open the signing key before the stream flows: a backup that cannot be
	// signed fails now, not after the whole dump.
	var signer *signing.Signer
	if key := u.signWith(sc, nil); key != "" && !u.Unsigned {
		if signer, err = keys.EntrySigner(sc.Keys, string(key)); err != nil {
			return nil, nil, fmt.Errorf("signing the manifest: %w", err)
		}
	}
	if !u.AllowPlaintext {
		if r, err = requireAge(r); err != nil {
			return nil, nil, err
		}
	}
	w, err := b.Create(ctx, name, blob.CreateOptions{Overwrite: u.Overwrite})
	if err != nil {
		return nil, nil, existsHint(err, b.URL(name))
	}
	p := &pendingUpload{u: u, sc: sc, b: b, name: name, w: w, sum: sha256.New(), signer: signer}
	n, err := io.Copy(io.MultiWriter(w, p.sum), r)
	p.bytes = n
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("storing %s: %w", b.URL(name), err), w.Abort())
	}
	return runner.Outputs{"bytes": n, "url": b.URL(name), "object": name}, p, nil
}

// existsHint tells how to allow replacing an existing object.
func existsHint(err error, url string) error {
	if errors.Is(err, blob.ErrExist) {
		return fmt.Errorf("%s already exists: refusing to overwrite it; set overwrite: true to replace it, or upload to another name", url)
	}
	return err
}

// pendingUpload is an upload whose object is written but not yet visible.
type pendingUpload struct {
	u     *Upload
	sc    *runner.StepContext
	b     blob.Backend
	name  string
	w     blob.Writer
	sum   hash.Hash // sha256 of the stored bytes
	bytes int64
	// signer signs the manifest; nil until Commit finds it upstream, and
	// with unsigned: true.
	signer *signing.Signer
}

// signWith names the keys: entry whose signing key signs the manifest: the
// one set, else the plan's only keys: entry, else (once upstream is known)
// that of the encrypt step feeding the upload; "" when there is none.
func (u *Upload) signWith(sc *runner.StepContext, upstream []runner.Stage) runner.KeyName {
	if u.SignWith != "" {
		return u.SignWith
	}
	if n := keys.Only(sc.Keys); n != "" {
		return runner.KeyName(n)
	}
	for i := len(upstream) - 1; i >= 0; i-- {
		if e, ok := upstream[i].Params.(*Encrypt); ok && e.Key != "" {
			return e.Key
		}
	}
	return ""
}

// sign returns the signature of the manifest's bytes, or nil with
// unsigned: true.
func (p *pendingUpload) sign(upstream []runner.Stage, data []byte) ([]byte, error) {
	if p.u.Unsigned {
		p.sc.Logger.Warn("unsigned: true: the manifest is not signed; readers refuse this backup unless they allow unsigned backups", "object", p.b.URL(p.name))
		return nil, nil
	}
	if p.signer == nil {
		name := p.u.signWith(p.sc, upstream)
		if name == "" {
			return nil, errors.New("no key store to sign the manifest with: add a keys: entry (sluice keys init DIR) and set sign_with, or set unsigned: true for a copy that is not a backup")
		}
		s, err := keys.EntrySigner(p.sc.Keys, string(name))
		if err != nil {
			return nil, err
		}
		p.signer = s
	}
	return p.signer.Sign(data, signing.ManifestNamespace)
}

// Commit verifies the checksum step's digest, makes the object visible, then
// writes the sidecar, the manifest's signature and, last, the manifest. If a later write fails, what
// this commit made visible is removed again.
func (p *pendingUpload) Commit(ctx context.Context, upstream []runner.Stage) (runner.Outputs, error) {
	own := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(p.sum.Sum(nil)), Bytes: p.bytes}
	digest, fromStep := manifest.DigestOf(upstream)
	if fromStep {
		if err := verifyStepDigest(digest, own); err != nil {
			return nil, errors.Join(fmt.Errorf("storing %s: %w", p.b.URL(p.name), err), p.w.Abort())
		}
	} else {
		digest = own
	}
	if err := p.w.Commit(ctx); err != nil {
		return nil, existsHint(err, p.b.URL(p.name))
	}
	made := []string{p.name}
	fail := func(err error) (runner.Outputs, error) {
		return nil, errors.Join(err, blob.RemoveMade(p.b, made))
	}
	opts := blob.CreateOptions{Overwrite: p.u.Overwrite}
	if p.u.Overwrite {
		// Sidecars and a signature of an older object describe other bytes.
		keep := ""
		if fromStep {
			keep = digest.Algorithm
		}
		stale := manifest.StaleSidecars(p.name, keep)
		if p.u.Unsigned {
			stale = append(stale, manifest.SignatureName(p.name))
		}
		// So do the parts of an older backup of this name in parts.
		parts, err := partset.Stale(ctx, p.b, p.name, nil)
		if err != nil {
			return fail(err)
		}
		stale = append(stale, parts...)
		if err := blob.RemoveIfExist(ctx, p.b, stale); err != nil {
			return fail(err)
		}
	}
	if fromStep {
		side := manifest.SidecarName(p.name, digest.Algorithm)
		if err := blob.PutMade(ctx, p.b, side, manifest.Sidecar(digest, p.name), opts, &made); err != nil {
			return fail(fmt.Errorf("writing checksum sidecar: %w", existsHint(err, p.b.URL(side))))
		}
	}
	m := manifest.Build(manifest.Input{
		Plan: p.sc.PlanName, RunID: p.sc.RunID, Created: time.Now(), Object: p.name,
		StoredBytes: p.bytes, Upstream: upstream, Digest: &digest, Secrets: p.sc.Secrets,
	})
	data, err := m.Marshal()
	if err != nil {
		return fail(err)
	}
	// The signature goes before the manifest, which stays the last write:
	// a manifest is never visible without its signature.
	sig, err := p.sign(upstream, data)
	if err != nil {
		return fail(fmt.Errorf("signing the manifest: %w", err))
	}
	out := runner.Outputs{"signature": "", "signed_by": ""}
	if sig != nil {
		sname := manifest.SignatureName(p.name)
		if err := blob.PutMade(ctx, p.b, sname, sig, opts, &made); err != nil {
			return fail(fmt.Errorf("writing the manifest signature: %w", existsHint(err, p.b.URL(sname))))
		}
		out["signature"], out["signed_by"] = p.b.URL(sname), p.signer.ID
	}
	mname := manifest.ManifestName(p.name)
	if err := blob.PutMade(ctx, p.b, mname, data, opts, &made); err != nil {
		return fail(fmt.Errorf("writing manifest: %w", existsHint(err, p.b.URL(mname))))
	}
	out["manifest"], out["digest"], out["digest_algorithm"] = p.b.URL(mname), digest.Hex, digest.Algorithm
	p.recordDestination(upstream)
	return out, nil
}

// verifyStepDigest compares a checksum step's digest with what the upload
// stored. A sha256 digest is compared in full; for sha512 the upload counted
// only sha256, so the byte counts are compared and the digest is trusted.
func verifyStepDigest(step, own manifest.Digest) error {
	if step.Bytes != 0 && step.Bytes != own.Bytes {
		return fmt.Errorf("checksum step digested %d bytes but %d were stored: refusing to record its digest", step.Bytes, own.Bytes)
	}
	if step.Algorithm == manifest.SHA256 && step.Hex != own.Hex {
		return fmt.Errorf("checksum step digest differs from the stored bytes (want %s, got %s): refusing to record it", step, own)
	}
	return nil
}

// Abort removes the pending object.
func (p *pendingUpload) Abort() error { return p.w.Abort() }

// ageMagic starts every age file.
const ageMagic = "age-encryption.org/v1\n"

// requireAge returns the stream r after checking that it starts with an age
// header: the run-time backstop of the fail-closed rule, for an upload
// without allow_plaintext whatever the plan's shape (a step that claims to
// protect a stream but does not, bytes a download fetched).
// A whole header, recipient stanzas and MAC line, must parse: the magic
// line alone, followed by a dump, is not one.
func requireAge(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, maxAgeHeader)
	head, err := br.Peek(maxAgeHeader)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("reading the stream (the upstream step failed): %w", err)
	}
	if !bytes.HasPrefix(head, []byte(ageMagic)) {
		return nil, errors.New(`refusing to store a stream that is not age-encrypted (it does not start with "age-encryption.org/v1"): add an encrypt step before the upload, or set allow_plaintext: true`)
	}
	if _, _, err := agefile.Parse(bytes.NewReader(head)); err != nil {
		// Not quoting the parse error: it may quote the stream, a dump's text.
		return nil, fmt.Errorf("refusing to store a stream that starts like an age file but has no valid age header (recipient stanzas and MAC line) in its first %d KiB: add an encrypt step before the upload, or set allow_plaintext: true", maxAgeHeader>>10)
	}
	return br, nil
}

// maxAgeHeader bounds the header requireAge reads: dozens of recipients,
// post-quantum ones included.
const maxAgeHeader = 64 << 10

// destination returns the canonical folder URL of the backups the object
// belongs to: dest, which must hold to, or to's folder.
func (u *Upload) destination() (string, error) {
	b, name, err := blob.Open(u.To)
	if err != nil {
		return "", err
	}
	folder, err := blob.FolderURL(b.URL(""))
	if err != nil {
		return "", err
	}
	if u.Dest == "" {
		return folder, nil
	}
	dest, err := blob.FolderURL(u.Dest)
	if err != nil {
		return "", fmt.Errorf("dest: %w", err)
	}
	if !blob.Within(folder, dest) {
		return "", fmt.Errorf("dest %s does not hold to (%s): set dest to the folder the backups go to, e.g. the plan's dest param", dest, b.URL(name))
	}
	return dest, nil
}

// recordDestination remembers, in the ledger of each key store the
// backup is encrypted to, the folder it went to, so that rotations and
// keys destroy check it (keys.Dir.AddDestination). The backup is committed
// already: a ledger that cannot be written (a backup host's read-only
// copy of the store) is a warning saying how to record the destination
// where the store's rotations run, never a failure.
func (p *pendingUpload) recordDestination(upstream []runner.Stage) {
	warn := p.sc.Logger.Warn
	dest, err := p.u.destination()
	if err != nil {
		warn("backup destination not recorded in any key store's ledger", "error", err.Error())
		return
	}
	for _, name := range encryptStores(upstream) {
		store, err := keys.OpenEntry(p.sc.Keys, string(name))
		if err != nil {
			continue // encrypt opened it; nothing to add here
		}
		d, ok := store.(*keys.Dir)
		if !ok {
			continue
		}
		added, err := d.AddDestination(dest, "upload")
		switch {
		case err != nil:
			warn(fmt.Sprintf("backup destination %s is not recorded in the ledger of key store %q (%s): rotate-key and keys destroy check only the destinations the ledger knows; record it where the store's rotations run: sluice keys dest add STORE %s", dest, name, d.Path(), dest),
				"error", err.Error())
		case added && d.PublicOnly():
			warn(fmt.Sprintf("backup destination %s is recorded in the ledger of key store %q (%s), a copy without identities: the store where rotations run does not see this record; run there: sluice keys dest add STORE %s", dest, name, d.Path(), dest))
		case added:
			p.sc.Logger.Info("backup destination recorded in the key store's ledger", "dest", dest, "store", string(name))
		}
	}
}

// encryptStores names the keys: entries the encrypt steps upstream encrypt
// to, in stream order, each once.
func encryptStores(upstream []runner.Stage) []runner.KeyName {
	var out []runner.KeyName
	for _, st := range upstream {
		if e, ok := st.Params.(*Encrypt); ok && e.Key != "" && !slices.Contains(out, e.Key) {
			out = append(out, e.Key)
		}
	}
	return out
}

// A stream in parts (dump with jobs) is stored as a backup in parts
// (steps/partset): an object per part, NAME.part-LABEL.age with its
// sidecar, and one manifest named after to, committed together after the
// last part and the asserts, or none of them.

var _ runner.PartedSink = (*Upload)(nil)

// ConsumeParts implements runner.PartedSink. It fails before anything
// streams when a file of the backup exists (unless overwrite) or the
// manifest cannot be signed.
func (u *Upload) ConsumeParts(ctx context.Context, sc *runner.StepContext, parts []runner.Part) (runner.PartConsumer, error) {
	b, name, err := blob.Open(u.To)
	if err != nil {
		return nil, err
	}
	set := partset.New(b, name, u.Overwrite)
	labels := make([]string, len(parts))
	for i, p := range parts {
		labels[i] = p.Name
	}
	var taken *partset.ExistsError
	if err := set.CheckFree(ctx, labels); errors.As(err, &taken) {
		return nil, existsHint(blob.ErrExist, taken.URL)
	} else if err != nil {
		return nil, err
	}
	c := &uploadParts{pendingUpload: pendingUpload{u: u, sc: sc, b: b, name: name}, set: set}
	if key := u.signWith(sc, nil); key != "" && !u.Unsigned {
		if c.signer, err = keys.EntrySigner(sc.Keys, string(key)); err != nil {
			return nil, fmt.Errorf("signing the manifest: %w", err)
		}
	}
	return c, nil
}

// uploadParts stores the parts of one stream, and is their commit.
type uploadParts struct {
	pendingUpload // the backup's name, signer and ledger record; no object
	set           *partset.Set
	entries       []partset.Entry // restore order, once Finish ran
}

// Consume stores one part under a pending name.
func (c *uploadParts) Consume(ctx context.Context, sc *runner.StepContext, p runner.Part, r io.Reader) (runner.Outputs, error) {
	if !c.u.AllowPlaintext {
		var err error
		if r, err = requireAge(r); err != nil {
			return nil, err
		}
	}
	part, err := c.set.Store(ctx, p.Name, r)
	if err != nil {
		return nil, existsHint(err, c.b.URL(manifest.PartName(c.name, p.Name)))
	}
	return runner.Outputs{"bytes": part.Bytes, "object": part.Name}, nil
}

// Finish checks each part's checksum step against what was stored and
// returns the commit of every part.
func (c *uploadParts) Finish(ctx context.Context, results []runner.PartResult) (runner.Outputs, runner.Pending, error) {
	var total int64
	for _, r := range results {
		part := c.set.Part(r.Part.Name)
		d, fromStep := manifest.DigestOf(r.Upstream)
		if !fromStep {
			d = part.Digest()
		} else if err := verifyStepDigest(d, part.Digest()); err != nil {
			return nil, nil, fmt.Errorf("storing %s: %w", c.b.URL(part.Name), err)
		}
		info := runner.Outputs(r.Part.Info)
		e := partset.Entry{Part: manifest.Part{Name: part.Name, Section: info.String("section"), RestorePhase: int(info.Int("restore_phase")),
			Tables: int(info.Int("tables")), StoredBytes: part.Bytes, Digest: &d}, Sidecar: fromStep}
		if len(r.Upstream) > 0 {
			e.PlaintextBytes = r.Upstream[0].Outputs.Int("bytes")
		}
		c.entries = append(c.entries, e)
		total += part.Bytes
	}
	partset.Sort(c.entries)
	return runner.Outputs{"bytes": total, "url": c.b.URL(c.name), "object": c.name, "parts": int64(len(results))}, c, nil
}

// Commit signs the manifest of the backup in parts and has the set make
// every part visible, then their sidecars, the signature and the
// manifest.
func (c *uploadParts) Commit(ctx context.Context, upstream []runner.Stage) (runner.Outputs, error) {
	parts := make([]manifest.Part, len(c.entries))
	for i, e := range c.entries {
		parts[i] = e.Part
	}
	m := manifest.Build(manifest.Input{
		Plan: c.sc.PlanName, RunID: c.sc.RunID, Created: time.Now(), Object: c.name,
		Upstream: upstream, Parts: parts, Secrets: c.sc.Secrets,
	})
	data, err := m.Marshal()
	if err != nil {
		return nil, errors.Join(err, c.set.Abort())
	}
	sig, err := c.sign(upstream, data)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("signing the manifest: %w", err), c.set.Abort())
	}
	if err := c.set.Commit(ctx, c.entries, data, sig); err != nil {
		return nil, err
	}
	out := runner.Outputs{"signature": "", "signed_by": ""}
	if sig != nil {
		out["signature"], out["signed_by"] = c.b.URL(manifest.SignatureName(c.name)), c.signer.ID
	}
	d := m.BackupDigest()
	out["manifest"], out["digest"], out["digest_algorithm"] = c.b.URL(manifest.ManifestName(c.name)), d.Hex, d.Algorithm
	c.recordDestination(upstream)
	return out, nil
}

// Abort removes every part not yet visible.
func (c *uploadParts) Abort() error { return c.set.Abort() }
