package steps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

func downloadDefinition() runner.Definition {
	return runner.Definition{
		Type:    "download",
		Kind:    runner.KindSource,
		Summary: "Stream one stored object (or the newest backup in a folder) once its whole digest matched its sidecar and signed manifest: no byte goes on before",
		New:     func() any { return &Download{} },
		Outcome: downloadOutcome,
		// Stored bytes may be anything: the fail-closed rule treats them as
		// plaintext, and upload checks for an age header at run time.
		Plaintext: true,
		Outputs: []runner.OutputSpec{
			{Name: "bytes", Type: "int", Doc: "bytes read"},
			{Name: "url", Type: "string", Doc: "URL of the object"},
			{Name: "object", Type: "string", Doc: "name of the object: relative to from's folder with latest, else its file name"},
			{Name: "created", Type: "string", Doc: "creation time recorded in the manifest (RFC 3339, UTC); empty when it has none"},
			{Name: "plan", Type: "string", Doc: "the plan that made the backup, as its manifest records it; empty when it has none"},
			{Name: "database", Type: "string", Doc: "the database the backup holds, as its manifest records it; empty when it has none"},
			{Name: "key_ids", Type: "list", Doc: "age key ids recorded by the manifest's encrypt stage (for decrypt's expected_key_ids); empty when none"},
			{Name: "manifest", Type: "string", Doc: "URL of the object's manifest; empty when it has none"},
			{Name: "digest", Type: "string", Doc: "hex digest verified over the whole object before it streamed; empty when nothing recorded one"},
			{Name: "digest_algorithm", Type: "string", Doc: "algorithm of digest"},
			{Name: "verified", Type: "bool", Doc: "whether a recorded digest was checked"},
			{Name: "signature", Type: "string", Doc: "how the manifest passed the signature check: signed, or unsigned / unchecked when allow_unsigned accepted it"},
			{Name: "signed_by", Type: "string", Doc: "id of the verification key that checked the manifest's signature; empty when unsigned"},
			{Name: "parts", Type: "int", Doc: "for a backup in parts: the parts streamed, each verified against its own digest (verified: all of them; digest: the SHA-256 of their names and digests)", Conditional: true},
		},
	}
}

// downloadOutcome says which object was read and what vouched for it.
func downloadOutcome(o runner.Outputs) string {
	url := o.String("url")
	if url == "" {
		return ""
	}
	var facts []string
	if c := o.String("created"); c != "" {
		facts = append(facts, "created "+c)
	}
	if o.Bool("verified") {
		facts = append(facts, o.String("digest_algorithm")+" verified")
	}
	switch {
	case o.String("manifest") == "":
		facts = append(facts, "no manifest")
	case o.String("signed_by") != "":
		facts = append(facts, "manifest signed by "+o.String("signed_by"))
	default:
		facts = append(facts, "manifest "+o.String("signature"))
	}
	line := fmt.Sprintf("downloaded %s (%s)", url, runner.FormatBytes(o.Int("bytes")))
	if len(facts) > 0 {
		line += ": " + strings.Join(facts, ", ")
	}
	return line
}

// Download is the parameter struct of the download step: a source that
// streams one stored object once all of its bytes matched the digest its
// sidecar and manifest record, and fails, having streamed nothing, when
// they differ.
type Download struct {
	From     string `yaml:"from" required:"true" doc:"URL of the object to read: file:///abs/path, file://./relative/path, a plain path or s3://BUCKET/KEY; with latest, the folder to search"`
	Latest   bool   `yaml:"latest" doc:"from names a folder: read the newest complete backup anywhere under it (newest by its manifest's created time; objects without a manifest are ignored); a folder with backups of several databases needs database"`
	Database string `yaml:"database" doc:"with latest: only backups of this database (as the manifest's source records it)"`
	Plan     string `yaml:"plan" doc:"with latest: only backups made by this plan (its name)"`
	// Signature checks, before any byte of the object is read.
	VerifyWith    runner.KeyName `yaml:"verify_with" doc:"the plan's keys: entry whose verification keys check the manifest's signature before anything is read (public parts suffice); default: the plan's only keys: entry"`
	AllowUnsigned bool           `yaml:"allow_unsigned" doc:"accept an object whose manifest is not signed, or that has no manifest (logged as a warning): nothing then proves where its bytes came from"`
	Jobs          int            `yaml:"jobs" default:"1" doc:"for a backup in parts (dump with jobs): parts streamed at once, each through the steps that follow (decrypt, decompress, restore); parts of one restore phase only, so the schema is restored before the data and indexes after it"`

	found *resolved // what Parts resolved, for Produce
}

var (
	_ runner.Source    = (*Download)(nil)
	_ runner.Validator = (*Download)(nil)
)

// Validate checks that from names one object (or, with latest, a folder) on
// a supported storage.
func (d *Download) Validate() error {
	if d.Jobs < 0 {
		return fmt.Errorf("jobs: %d is not 1 or more", d.Jobs)
	}
	if d.Latest {
		_, err := blob.OpenRoot(d.From)
		return err
	}
	if d.Database != "" || d.Plan != "" {
		return errors.New("database and plan choose among backups with latest: true; without it, from names one object")
	}
	_, _, err := blob.Open(d.From)
	return err
}

// resolve returns the backend and name of the object to read, with its
// manifest once it passed the signature gate (nil for an object without a
// manifest that allow_unsigned accepted).
func (d *Download) resolve(ctx context.Context, sc *runner.StepContext) (blob.Backend, string, *manifest.Manifest, catalog.Signature, error) {
	trust, err := catalog.PlanTrust(sc.Keys, d.VerifyWith, d.AllowUnsigned, sc.Logger.Warn)
	if err != nil {
		return nil, "", nil, catalog.Signature{}, err
	}
	if !d.Latest {
		b, name, err := blob.Open(d.From)
		if err != nil {
			return nil, "", nil, catalog.Signature{}, err
		}
		signed, err := catalog.ReadManifest(ctx, b, name, trust)
		if err != nil {
			if perr := partOf(b.URL(name)); perr != nil {
				err = perr
			}
			return nil, "", nil, catalog.Signature{}, err
		}
		return b, name, signed.Manifest, signed.Signature, nil
	}
	b, err := blob.OpenRoot(d.From)
	if err != nil {
		return nil, "", nil, catalog.Signature{}, err
	}
	bk, skipped, err := catalog.Newest(ctx, b, trust, catalog.Series{Plan: d.Plan, Database: d.Database})
	for _, p := range skipped {
		sc.Logger.Warn("ignoring a manifest whose object is missing", "manifest", p.URL)
	}
	if err != nil {
		return nil, "", nil, catalog.Signature{}, err
	}
	sc.Logger.Info("newest backup", "url", bk.URL, "created", bk.Created(), "run_id", bk.Summary.RunID, "signature", bk.Signature.String())
	m, err := bk.LoadManifest(ctx, b, trust)
	if err != nil {
		return nil, "", nil, catalog.Signature{}, err
	}
	return b, bk.Name, m, bk.Signature, nil
}

// Produce checks the object's manifest signature, then the whole object
// against the digests its sidecars and manifest record (see
// holdUntilChecked), and only then streams it to w; it fails, having
// written nothing, when they differ.
func (d *Download) Produce(ctx context.Context, sc *runner.StepContext, w io.Writer) (runner.Outputs, error) {
	found := d.found
	if found == nil {
		b, name, m, sig, err := d.resolve(ctx, sc)
		if err != nil {
			return nil, err
		}
		found = &resolved{b: b, name: name, m: m, sig: sig}
	}
	if found.m != nil && found.m.InParts() {
		return nil, fmt.Errorf("%s %w", found.b.URL(found.name), errInParts)
	}
	if found.m == nil {
		sc.Logger.Warn("object has no manifest: it may not be a complete sluice backup", "url", found.b.URL(found.name))
	}
	return d.stream(ctx, sc, found.b, found.name, found.m, found.sig, w)
}

// A backup in parts (dump with jobs) downloads as a stream in parts: one
// part per object its manifest lists, in the manifest's restore phases
// (the schema before the data, the data, then indexes and constraints),
// each part through the digest check of its own record, jobs at once
// within a phase; the steps that follow (decrypt, decompress, restore) run
// once per part.

var _ runner.PartedSource = (*Download)(nil)

// resolved is what Parts found, for Produce (the runner calls Parts first,
// on the same parameters).
type resolved struct {
	b    blob.Backend
	name string
	m    *manifest.Manifest
	sig  catalog.Signature
}

// Parts implements runner.PartedSource: the parts of a backup in parts,
// nil for one object.
func (d *Download) Parts(ctx context.Context, sc *runner.StepContext) (*runner.Parts, error) {
	b, name, m, sig, err := d.resolve(ctx, sc)
	if err != nil {
		return nil, err
	}
	d.found = &resolved{b: b, name: name, m: m, sig: sig}
	if m == nil || !m.InParts() {
		return nil, nil
	}
	order := make([]int, len(m.Parts))
	for i := range order {
		order[i] = i
	}
	// Within a phase, the largest part first: it would finish last.
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := m.Parts[a], m.Parts[b]
		return cmp.Or(cmp.Compare(pa.RestorePhase, pb.RestorePhase), cmp.Compare(pb.StoredBytes, pa.StoredBytes))
	})
	var list []runner.Part
	index := map[string]int{}
	for _, i := range order {
		p := m.Parts[i]
		_, label, _ := manifest.PartOwner(p.Name) // manifest.Parse checked it
		index[label] = i
		list = append(list, runner.Part{Name: label, Phase: p.RestorePhase, Info: map[string]any{
			"section": p.Section, "restore_phase": int64(p.RestorePhase), "tables": int64(p.Tables), "object": catalog.PartPath(name, p.Name),
		}})
	}
	sc.Logger.Info("backup in parts", "url", b.URL(name), "parts", len(m.Parts), "jobs", d.Jobs)
	return &runner.Parts{
		List: list,
		Jobs: d.Jobs,
		Produce: func(ctx context.Context, sc *runner.StepContext, part runner.Part, w io.Writer) (runner.Outputs, error) {
			i := index[part.Name]
			return d.stream(ctx, sc, b, catalog.PartPath(name, m.Parts[i].Name), m.Part(i), sig, w)
		},
		Finish: func(parts []runner.Outputs) runner.Outputs {
			out := d.outputs(b, name, m, sig)
			var n int64
			verified := true
			for _, p := range parts {
				n += p.Int("bytes")
				verified = verified && p.Bool("verified")
			}
			dg := m.BackupDigest()
			out["url"], out["bytes"], out["parts"] = b.URL(name), n, int64(len(parts))
			out["digest"], out["digest_algorithm"], out["verified"] = dg.Hex, dg.Algorithm, verified
			return out
		},
	}, nil
}

// stream copies object name of b to w through the digest check against m
// (the object's own manifest, or a part's view of the backup's), and
// returns the outputs of one object.
func (d *Download) stream(ctx context.Context, sc *runner.StepContext, b blob.Backend, name string, m *manifest.Manifest, sig catalog.Signature, w io.Writer) (runner.Outputs, error) {
	obj, err := catalog.OpenChecked(ctx, b, name, m)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	out := d.outputs(b, name, m, sig)
	out["url"] = obj.URL()
	if m != nil && m.StoredBytes > 0 && sc.ExpectBytes != nil {
		sc.ExpectBytes(m.StoredBytes)
	}
	checked, err := holdUntilChecked(obj, sc.Checking)
	out["bytes"] = obj.Bytes()
	if err != nil {
		return out, err
	}
	defer checked.Close()
	if dg, ok := obj.Digest(); ok {
		out["digest"], out["digest_algorithm"], out["verified"] = dg.Hex, dg.Algorithm, true
	}
	_, err = io.CopyBuffer(w, checked, make([]byte, 1<<20))
	return out, err
}

// holdUntilChecked reads obj to its end, through the digest check, into an
// unlinked temporary file and returns that file to stream from. No byte
// goes downstream before the whole object matched the signed manifest:
// a restore runs what it reads, and pg_restore commits when its archive
// ends, which an object swapped under a genuine manifest can place long
// before its own end (and its failed digest). The bytes wait still
// encrypted, in a file no other user can open and no exit leaves behind.
func holdUntilChecked(obj *catalog.CheckedObject, progress func(int64)) (*os.File, error) {
	f, err := os.CreateTemp("", "sluice-download-*")
	if err != nil {
		return nil, fmt.Errorf("making room to check %s before it streams: %w", obj.URL(), err)
	}
	_ = os.Remove(f.Name())
	_, err = io.CopyBuffer(&tempWriter{f: f, progress: progress}, obj, make([]byte, 1<<20))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// tempWriter says what a failed write to the holding file means, and
// reports the bytes held to progress (nil: nobody asks).
type tempWriter struct {
	f        *os.File
	n        int64
	progress func(int64)
}

func (t *tempWriter) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.n += int64(n)
	if t.progress != nil {
		t.progress(t.n)
	}
	if err != nil {
		err = fmt.Errorf("holding the object in %s while its digest is checked (it needs the object's size free; set TMPDIR to a folder with room): %w", os.TempDir(), err)
	}
	return n, err
}

// outputs are the outputs every download has, from the manifest m of the
// object (or backup) name.
func (d *Download) outputs(b blob.Backend, name string, m *manifest.Manifest, sig catalog.Signature) runner.Outputs {
	out := runner.Outputs{"url": b.URL(name), "object": name, "manifest": "", "created": "", "plan": "", "database": "", "key_ids": []any{},
		"digest": "", "digest_algorithm": "", "verified": false, "signature": sig.State, "signed_by": sig.KeyID}
	if m != nil {
		out["manifest"] = b.URL(manifest.ManifestName(name))
		out["created"] = m.Created.UTC().Format(time.RFC3339Nano)
		s := catalog.Summarize(m)
		out["plan"], out["database"] = s.Plan, s.Database
		out["key_ids"] = runner.List(catalog.KeyIDs(m))
	}
	return out
}

// errInParts is Produce's answer for a backup in parts read without Parts.
var errInParts = errors.New("is a backup in parts: it streams only as parts (the runner asks download for them)")

// partOf explains an object that is a part of a backup in parts.
func partOf(url string) error {
	if owner, _, ok := manifest.PartOwner(url); ok {
		return fmt.Errorf("%s is one part of the backup %s: download the backup (its name, or latest: true), which streams every part", url, owner)
	}
	return nil
}
