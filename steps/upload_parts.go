package steps

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// A stream in parts (dump with jobs) is stored as one object per part,
// manifest.PartName(to, part), each with its checksum sidecar, and one
// manifest named after to (format 2) that lists them in restore order.
// "Committed together" means: every part streams to a pending object
// (nothing visible); only after the last part and the asserts does the
// commit make the parts visible, then their sidecars, the signature and,
// last, the manifest; a failure on the way removes what it made visible.
// A backup is its manifest: a run killed during the commit leaves part
// objects without one, which readers ignore and `backups list` shows as
// incomplete (prune --incomplete removes them), as it does for one object.

var _ runner.PartedSink = (*Upload)(nil)

// ConsumeParts implements runner.PartedSink. It fails before anything
// streams when a file of the backup exists (unless overwrite) or the
// manifest cannot be signed.
func (u *Upload) ConsumeParts(ctx context.Context, sc *runner.StepContext, parts []runner.Part) (runner.PartConsumer, error) {
	b, name, err := blob.Open(u.To)
	if err != nil {
		return nil, err
	}
	names := []string{manifest.ManifestName(name), manifest.SignatureName(name)}
	for _, p := range parts {
		obj := manifest.PartName(name, p.Name)
		if owner, _, ok := manifest.PartOwner(obj); !ok || owner != name {
			return nil, fmt.Errorf("part %q cannot name an object: a bug in the source step", p.Name)
		}
		names = append(names, obj, manifest.SidecarName(obj, manifest.SHA256), manifest.SidecarName(obj, manifest.SHA512))
	}
	if !u.Overwrite {
		for _, n := range names {
			if _, err := b.Stat(ctx, n); err == nil {
				return nil, existsHint(blob.ErrExist, b.URL(n))
			} else if !errors.Is(err, blob.ErrNotExist) {
				return nil, err
			}
		}
	}
	c := &uploadParts{u: u, sc: sc, b: b, name: name, objects: map[string]*partObject{}}
	if key := u.signWith(sc, nil); key != "" && !u.Unsigned {
		if c.signer, err = keys.EntrySigner(sc.Keys, string(key)); err != nil {
			return nil, fmt.Errorf("signing the manifest: %w", err)
		}
	}
	return c, nil
}

// uploadParts stores the parts of one stream.
type uploadParts struct {
	u      *Upload
	sc     *runner.StepContext
	b      blob.Backend
	name   string // the backup's name: its manifest's, no object's
	signer *signing.Signer

	mu      sync.Mutex
	objects map[string]*partObject // by part name
}

// partObject is one part's pending object.
type partObject struct {
	name  string
	w     blob.Writer
	sum   hash.Hash
	bytes int64
}

// Consume stores one part under a pending name.
func (c *uploadParts) Consume(ctx context.Context, sc *runner.StepContext, p runner.Part, r io.Reader) (runner.Outputs, error) {
	obj := manifest.PartName(c.name, p.Name)
	if !c.u.AllowPlaintext {
		var err error
		if r, err = requireAge(r); err != nil {
			return nil, err
		}
	}
	w, err := c.b.Create(ctx, obj, blob.CreateOptions{Overwrite: c.u.Overwrite})
	if err != nil {
		return nil, existsHint(err, c.b.URL(obj))
	}
	po := &partObject{name: obj, w: w, sum: sha256.New()}
	c.mu.Lock()
	c.objects[p.Name] = po
	c.mu.Unlock()
	n, err := io.Copy(io.MultiWriter(w, po.sum), r)
	po.bytes = n
	if err != nil {
		return nil, errors.Join(fmt.Errorf("storing %s: %w", c.b.URL(obj), err), w.Abort())
	}
	return runner.Outputs{"bytes": n, "object": obj}, nil
}

// Finish checks each part's checksum step against what was stored and
// returns the group commit.
func (c *uploadParts) Finish(ctx context.Context, results []runner.PartResult) (runner.Outputs, runner.Pending, error) {
	pp := &pendingParts{c: c}
	var total int64
	for _, r := range results {
		po := c.objects[r.Part.Name]
		if po == nil {
			return nil, nil, fmt.Errorf("part %s was not stored", r.Part.Name)
		}
		own := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(po.sum.Sum(nil)), Bytes: po.bytes}
		d, fromStep := manifest.DigestOf(r.Upstream)
		if fromStep {
			if err := verifyStepDigest(d, own); err != nil {
				return nil, nil, fmt.Errorf("storing %s: %w", c.b.URL(po.name), err)
			}
		} else {
			d = own
		}
		mp := manifest.Part{Name: po.name, StoredBytes: po.bytes, Digest: &d}
		mp.Section, _ = r.Part.Info["section"].(string)
		mp.RestorePhase = int(runner.Outputs(r.Part.Info).Int("restore_phase"))
		mp.Tables = int(runner.Outputs(r.Part.Info).Int("tables"))
		if len(r.Upstream) > 0 {
			mp.PlaintextBytes = r.Upstream[0].Outputs.Int("bytes")
		}
		pp.parts = append(pp.parts, mp)
		pp.sidecar = append(pp.sidecar, fromStep)
		total += po.bytes
	}
	order := make([]int, len(pp.parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(pp.parts[a].RestorePhase, pp.parts[b].RestorePhase), cmp.Compare(pp.parts[a].Name, pp.parts[b].Name))
	})
	sorted, sidecar := make([]manifest.Part, len(order)), make([]bool, len(order))
	for i, j := range order {
		sorted[i], sidecar[i] = pp.parts[j], pp.sidecar[j]
	}
	pp.parts, pp.sidecar = sorted, sidecar
	return runner.Outputs{"bytes": total, "url": c.b.URL(c.name), "object": c.name, "parts": int64(len(results))}, pp, nil
}

// Abort removes every part not yet visible.
func (c *uploadParts) Abort() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, po := range c.objects {
		errs = append(errs, po.w.Abort())
	}
	return errors.Join(errs...)
}

// pendingParts is the commit of a backup in parts.
type pendingParts struct {
	c       *uploadParts
	parts   []manifest.Part // restore order
	sidecar []bool          // whether part i's digest came from a checksum step
}

// Commit makes every part visible, writes their sidecars, the manifest's
// signature and, last, the manifest. If a write fails, what this commit
// made visible is removed again.
func (p *pendingParts) Commit(ctx context.Context, upstream []runner.Stage) (runner.Outputs, error) {
	c := p.c
	var made []string
	fail := func(err error) (runner.Outputs, error) {
		return nil, errors.Join(err, removeAll(c.b, made), c.Abort())
	}
	byName := map[string]*partObject{}
	for _, po := range c.objects {
		byName[po.name] = po
	}
	for _, mp := range p.parts {
		if err := byName[mp.Name].w.Commit(ctx); err != nil {
			return fail(existsHint(err, c.b.URL(mp.Name)))
		}
		made = append(made, mp.Name)
	}
	opts := blob.CreateOptions{Overwrite: c.u.Overwrite}
	for i, mp := range p.parts {
		if !p.sidecar[i] {
			continue
		}
		side := manifest.SidecarName(mp.Name, mp.Digest.Algorithm)
		if err := c.b.Put(ctx, side, manifest.Sidecar(*mp.Digest, mp.Name), opts); err != nil {
			return fail(fmt.Errorf("writing checksum sidecar: %w", existsHint(err, c.b.URL(side))))
		}
		made = append(made, side)
	}
	m := manifest.Build(manifest.Input{
		Plan: c.sc.PlanName, RunID: c.sc.RunID, Created: time.Now(), Object: c.name,
		Upstream: upstream, Parts: p.parts, Secrets: c.sc.Secrets,
	})
	data, err := m.Marshal()
	if err != nil {
		return fail(err)
	}
	pu := &pendingUpload{u: c.u, sc: c.sc, b: c.b, name: c.name, signer: c.signer}
	sig, err := pu.sign(upstream, data)
	if err != nil {
		return fail(fmt.Errorf("signing the manifest: %w", err))
	}
	out := runner.Outputs{"signature": "", "signed_by": ""}
	if sig != nil {
		sname := manifest.SignatureName(c.name)
		if err := c.b.Put(ctx, sname, sig, opts); err != nil {
			return fail(fmt.Errorf("writing the manifest signature: %w", existsHint(err, c.b.URL(sname))))
		}
		made = append(made, sname)
		out["signature"], out["signed_by"] = c.b.URL(sname), pu.signer.ID
	}
	mname := manifest.ManifestName(c.name)
	if err := c.b.Put(ctx, mname, data, opts); err != nil {
		return fail(fmt.Errorf("writing manifest: %w", existsHint(err, c.b.URL(mname))))
	}
	d := m.BackupDigest()
	out["manifest"], out["digest"], out["digest_algorithm"] = c.b.URL(mname), d.Hex, d.Algorithm
	pu.recordDestination(upstream)
	return out, nil
}

// Abort removes every part not yet visible.
func (p *pendingParts) Abort() error { return p.c.Abort() }

// removeAll removes the objects a failed commit made visible, newest
// first.
func removeAll(b blob.Backend, made []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if err := b.Remove(ctx, made[i]); err != nil && !errors.Is(err, blob.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %s after a failed commit: %w; delete it by hand", b.URL(made[i]), err))
		}
	}
	return errors.Join(errs...)
}
