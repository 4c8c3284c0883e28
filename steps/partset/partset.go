// Package partset stores a backup in parts (a database dumped by several
// pg_dump processes from one snapshot): one object per part,
// manifest.PartName(NAME, label), each with its checksum sidecar, and one
// manifest named after the backup that lists them in restore order.
//
// Committed together means: every part streams into a pending object
// (blob.Writer, nothing visible); Commit, once every part is stored, makes
// the parts visible, then their sidecars, the manifest's signature and,
// last, the manifest; a write that fails removes what the commit made
// visible and aborts the rest. A backup is its manifest: a process killed
// during the commit leaves part objects without one, which readers ignore
// and the catalogue lists as incomplete (steps/catalog), as it does for an
// object of a backup in one piece.
package partset

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// Set is the parts of one backup being stored, named after NAME, the
// backup's name (its manifest's, no object's). Store is safe to call for
// several parts at once.
type Set struct {
	b         blob.Backend
	name      string
	overwrite bool

	mu    sync.Mutex
	parts map[string]*Part // by label
}

// Part is one stored, not yet visible, part.
type Part struct {
	Label string
	Name  string // the object's name: manifest.PartName(NAME, Label)
	Bytes int64
	w     blob.Writer
	sum   hash.Hash
}

// Digest returns the SHA-256 of the bytes stored.
func (p *Part) Digest() manifest.Digest {
	return manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(p.sum.Sum(nil)), Bytes: p.Bytes}
}

// New returns the set of the backup name under b; overwrite allows
// replacing its files.
func New(b blob.Backend, name string, overwrite bool) *Set {
	return &Set{b: b, name: name, overwrite: overwrite, parts: map[string]*Part{}}
}

// ExistsError names a file of the backup that exists already.
type ExistsError struct{ URL string }

func (e *ExistsError) Error() string { return e.URL + " already exists" }

// Is makes an ExistsError match blob.ErrExist.
func (e *ExistsError) Is(target error) bool { return target == blob.ErrExist }

// CheckFree fails, before anything streams, when the manifest, its
// signature or a part of the given labels (or its sidecar) exists, with
// an *ExistsError; a set that may overwrite checks nothing.
func (s *Set) CheckFree(ctx context.Context, labels []string) error {
	names := []string{manifest.ManifestName(s.name), manifest.SignatureName(s.name)}
	for _, l := range labels {
		obj := manifest.PartName(s.name, l)
		if owner, _, ok := manifest.PartOwner(obj); !ok || owner != s.name {
			return fmt.Errorf("part %q cannot name an object of backup %s: a label is lower-case letters, digits and dashes", l, s.name)
		}
		names = append(names, obj, manifest.SidecarName(obj, manifest.SHA256), manifest.SidecarName(obj, manifest.SHA512))
	}
	if s.overwrite {
		return nil
	}
	for _, n := range names {
		if _, err := s.b.Stat(ctx, n); err == nil {
			return &ExistsError{URL: s.b.URL(n)}
		} else if !errors.Is(err, blob.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Store streams r into the pending object of part label. On an error the
// part's pending object is gone.
func (s *Set) Store(ctx context.Context, label string, r io.Reader) (*Part, error) {
	obj := manifest.PartName(s.name, label)
	w, err := s.b.Create(ctx, obj, blob.CreateOptions{Overwrite: s.overwrite})
	if err != nil {
		return nil, err
	}
	p := &Part{Label: label, Name: obj, w: w, sum: sha256.New()}
	s.mu.Lock()
	s.parts[label] = p
	s.mu.Unlock()
	n, err := io.Copy(io.MultiWriter(w, p.sum), r)
	p.Bytes = n
	if err != nil {
		return nil, errors.Join(fmt.Errorf("storing %s: %w", s.b.URL(obj), err), w.Abort())
	}
	return p, nil
}

// Part returns the stored part of label, or nil.
func (s *Set) Part(label string) *Part {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts[label]
}

// Entry is one part as the commit writes it: its record in the manifest,
// and whether a checksum sidecar goes with it (when the digest came from
// a checksum step, as for a backup in one piece).
type Entry struct {
	manifest.Part
	Sidecar bool
}

// Sort puts entries in restore order: by restore phase, then by name.
func Sort(entries []Entry) {
	slices.SortStableFunc(entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.RestorePhase, b.RestorePhase), cmp.Compare(a.Name, b.Name))
	})
}

// Commit makes the parts of entries (in order) visible, writes their
// sidecars, then sig (the manifest's signature; none when nil) and, last,
// manifestData. If a write fails, what the commit made visible is removed
// again and every part not yet visible is aborted.
func (s *Set) Commit(ctx context.Context, entries []Entry, manifestData, sig []byte) error {
	var made []string
	fail := func(err error) error {
		return errors.Join(err, blob.RemoveMade(s.b, made), s.Abort())
	}
	byName := map[string]*Part{}
	s.mu.Lock()
	for _, p := range s.parts {
		byName[p.Name] = p
	}
	s.mu.Unlock()
	for _, e := range entries {
		p := byName[e.Name]
		if p == nil {
			return fail(fmt.Errorf("part %s was not stored", s.b.URL(e.Name)))
		}
		if err := p.w.Commit(ctx); err != nil {
			return fail(err)
		}
		made = append(made, e.Name)
	}
	opts := blob.CreateOptions{Overwrite: s.overwrite}
	if s.overwrite {
		// Sidecars and a signature of an older backup of this name describe
		// other bytes: a reader would refuse the new one for them. Its
		// object (a backup in one piece) and the parts this one does not
		// have would be left unlisted.
		stale := append(manifest.StaleSidecars(s.name, ""), s.name)
		if sig == nil {
			stale = append(stale, manifest.SignatureName(s.name))
		}
		var labels []string
		for _, e := range entries {
			keep := ""
			if e.Sidecar {
				keep = e.Digest.Algorithm
			}
			stale = append(stale, manifest.StaleSidecars(e.Name, keep)...)
			if _, label, ok := manifest.PartOwner(e.Name); ok {
				labels = append(labels, label)
			}
		}
		extra, err := Stale(ctx, s.b, s.name, labels)
		if err != nil {
			return fail(err)
		}
		if err := blob.RemoveIfExist(ctx, s.b, append(stale, extra...)); err != nil {
			return fail(err)
		}
	}
	for _, e := range entries {
		if !e.Sidecar {
			continue
		}
		side := manifest.SidecarName(e.Name, e.Digest.Algorithm)
		if err := blob.PutMade(ctx, s.b, side, manifest.Sidecar(*e.Digest, e.Name), opts, &made); err != nil {
			return fail(fmt.Errorf("writing checksum sidecar %s: %w", s.b.URL(side), err))
		}
	}
	// The signature goes before the manifest, which stays the last write:
	// a manifest is never visible without its signature.
	if sig != nil {
		sname := manifest.SignatureName(s.name)
		if err := blob.PutMade(ctx, s.b, sname, sig, opts, &made); err != nil {
			return fail(fmt.Errorf("writing the manifest signature %s: %w", s.b.URL(sname), err))
		}
	}
	mname := manifest.ManifestName(s.name)
	if err := blob.PutMade(ctx, s.b, mname, manifestData, opts, &made); err != nil {
		return fail(fmt.Errorf("writing manifest %s: %w", s.b.URL(mname), err))
	}
	return nil
}

// Stale returns the visible parts of the backup name under b whose labels
// are not in keep, with their sidecars: what a backup stored over an older
// one of the same name (with other parts, or in one piece) must remove, as
// no manifest lists them any more.
func Stale(ctx context.Context, b blob.Backend, name string, keep []string) ([]string, error) {
	infos, err := b.List(ctx, strings.TrimSuffix(name, path.Ext(name)))
	if err != nil {
		return nil, fmt.Errorf("listing the parts of %s: %w", b.URL(name), err)
	}
	var stale []string
	for _, in := range infos {
		part := in.Name
		for _, alg := range manifest.Algorithms {
			part = strings.TrimSuffix(part, "."+alg)
		}
		if owner, label, ok := manifest.PartOwner(part); ok && owner == name && !slices.Contains(keep, label) {
			stale = append(stale, in.Name)
		}
	}
	return stale, nil
}

// Abort removes every part not yet visible. It may be called more than
// once.
func (s *Set) Abort() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, p := range s.parts {
		errs = append(errs, p.w.Abort())
	}
	return errors.Join(errs...)
}
