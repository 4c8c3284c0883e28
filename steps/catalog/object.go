package catalog

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// CheckedObject reads a stored object and checks its digest on the way
// (the digest check): at the end of the object, Read returns an error
// instead of io.EOF when the bytes differ from a digest its sidecars or
// its manifest record, or from the size its manifest records. The download
// step and verify read objects through it.
type CheckedObject struct {
	ctx    context.Context
	url    string
	rc     io.ReadCloser
	m      *manifest.Manifest
	want   map[string]manifest.Digest
	hashes map[string]hash.Hash
	n      int64
	eof    bool
	err    error
	digest manifest.Digest
}

// OpenChecked opens object name of b for a digest-checked read. m is its
// manifest, which must have passed the signature gate (ReadManifest); nil
// means the object has none and that was accepted. Sidecars and manifest
// that disagree are an error before anything is read.
func OpenChecked(ctx context.Context, b blob.Backend, name string, m *manifest.Manifest) (*CheckedObject, error) {
	want, err := recordedDigests(ctx, b, name, m)
	if err != nil {
		return nil, err
	}
	rc, err := b.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	o := &CheckedObject{ctx: ctx, url: b.URL(name), rc: rc, m: m, want: want, hashes: make(map[string]hash.Hash, len(want))}
	for alg := range want {
		o.hashes[alg], _ = manifest.NewHash(alg) // recordedDigests validated alg
	}
	return o, nil
}

// Read reads the object, hashing every byte. Its errors are sticky.
func (o *CheckedObject) Read(p []byte) (int, error) {
	switch {
	case o.err != nil:
		return 0, o.err
	case o.eof:
		return 0, io.EOF
	}
	if err := o.ctx.Err(); err != nil {
		o.err = fmt.Errorf("reading %s: %w", o.url, err)
		return 0, o.err
	}
	n, err := o.rc.Read(p)
	o.n += int64(n)
	for _, h := range o.hashes {
		h.Write(p[:n])
	}
	if o.m != nil && o.m.StoredBytes > 0 && o.n > o.m.StoredBytes {
		// Said at once, not at the end: a reader that holds the bytes
		// until the check (download) would otherwise fill its disk.
		o.err = fmt.Errorf("%s is corrupted or replaced: it is larger than the %d bytes its manifest records", o.url, o.m.StoredBytes)
		return n, o.err
	}
	switch {
	case err == io.EOF:
		if o.err = o.check(); o.err != nil {
			return n, o.err
		}
		o.eof = true
	case err != nil:
		o.err = fmt.Errorf("reading %s: %w", o.url, err)
		return n, o.err
	}
	return n, err
}

// check compares what was read with the recorded digests and size.
func (o *CheckedObject) check() error {
	size := ""
	if o.m != nil && o.m.StoredBytes > 0 && o.m.StoredBytes != o.n {
		size = fmt.Sprintf("; read %d bytes, the manifest says %d", o.n, o.m.StoredBytes)
	}
	for _, alg := range manifest.Algorithms {
		exp, ok := o.want[alg]
		if !ok {
			continue
		}
		got := manifest.Digest{Algorithm: alg, Hex: hex.EncodeToString(o.hashes[alg].Sum(nil))}
		if got.Hex != exp.Hex {
			return fmt.Errorf("%s is corrupted or truncated: digest mismatch (want %s, got %s%s)", o.url, exp, got, size)
		}
		o.digest = got
	}
	if size != "" {
		return fmt.Errorf("%s is corrupted or truncated: size mismatch (%s)", o.url, size[2:])
	}
	return nil
}

// Close closes the object.
func (o *CheckedObject) Close() error { return o.rc.Close() }

// URL returns the object's URL.
func (o *CheckedObject) URL() string { return o.url }

// Bytes returns how many bytes were read so far.
func (o *CheckedObject) Bytes() int64 { return o.n }

// Digest returns the digest checked once the whole object was read and
// matched; ok is false before that, and when nothing records a digest.
func (o *CheckedObject) Digest() (d manifest.Digest, ok bool) {
	return o.digest, o.eof && o.digest.Algorithm != ""
}

// recordedDigests reads the object's sidecars, if any, and returns the
// digests they and the manifest m (nil when there is none) record, by
// algorithm. Records that disagree are an error: the backup cannot be
// trusted.
func recordedDigests(ctx context.Context, b blob.Backend, name string, m *manifest.Manifest) (map[string]manifest.Digest, error) {
	want := map[string]manifest.Digest{}
	add := func(d manifest.Digest) error {
		if prev, ok := want[d.Algorithm]; ok && prev.Hex != d.Hex {
			return fmt.Errorf("%s: the checksum sidecar and the manifest disagree (%s vs %s): the backup cannot be trusted", b.URL(name), prev, d)
		}
		want[d.Algorithm] = d
		return nil
	}
	for _, alg := range manifest.Algorithms {
		side := manifest.SidecarName(name, alg)
		data, err := ReadSmall(ctx, b, side)
		if errors.Is(err, blob.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		d, err := manifest.ParseSidecar(data, alg, name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", b.URL(side), err)
		}
		if err := add(d); err != nil {
			return nil, err
		}
	}
	if m != nil && m.Digest != nil {
		if err := add(*m.Digest); err != nil {
			return nil, err
		}
	}
	return want, nil
}
