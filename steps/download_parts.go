package steps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

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
	_, err = io.Copy(w, obj)
	out["bytes"] = obj.Bytes()
	if dg, ok := obj.Digest(); ok {
		out["digest"], out["digest_algorithm"], out["verified"] = dg.Hex, dg.Algorithm, true
	}
	return out, err
}

// outputs are the outputs every download has, from the manifest m of the
// object (or backup) name.
func (d *Download) outputs(b blob.Backend, name string, m *manifest.Manifest, sig catalog.Signature) runner.Outputs {
	out := runner.Outputs{"url": b.URL(name), "object": name, "manifest": "", "created": "", "key_ids": []any{},
		"digest": "", "digest_algorithm": "", "verified": false, "signature": sig.State, "signed_by": sig.KeyID}
	if m != nil {
		out["manifest"] = b.URL(manifest.ManifestName(name))
		out["created"] = m.Created.UTC().Format(time.RFC3339Nano)
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
