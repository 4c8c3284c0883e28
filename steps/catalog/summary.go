package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// MaxSummary bounds what the catalogue keeps of one manifest (plan, run id,
// database, digest and key ids together): a few hundred bytes in a manifest
// sluice writes. With it, a listing holds a small, bounded summary per
// backup however large the manifests are, and LoadManifest reads one
// manifest in full only when a caller needs its stages.
const MaxSummary = 8 << 10

// Summary is what the catalogue keeps of a backup's manifest: what list,
// prune and verify records need.
type Summary struct {
	Created        time.Time
	Plan           string
	RunID          string
	Database       string
	PlaintextBytes int64
	StoredBytes    int64
	// Digest is the manifest's BackupDigest.
	Digest *manifest.Digest
}

// Summarize returns the summary of m.
func Summarize(m *manifest.Manifest) Summary {
	s := Summary{Created: m.Created, Plan: m.Plan, RunID: m.RunID, PlaintextBytes: m.PlaintextBytes, StoredBytes: m.StoredBytes, Digest: m.BackupDigest()}
	if m.Source != nil {
		s.Database = m.Source.Database
	}
	return s
}

// same tells whether two summaries describe the same manifest.
func (s Summary) same(o Summary) bool {
	return s.Created.Equal(o.Created) && s.Plan == o.Plan && s.RunID == o.RunID && s.StoredBytes == o.StoredBytes &&
		(s.Digest == nil) == (o.Digest == nil) && (s.Digest == nil || *s.Digest == *o.Digest)
}

// UntrustedError is a manifest that cannot be trusted; Kind is one of the
// Problem kinds.
type UntrustedError struct {
	Manifest string // URL of the manifest
	Kind     string
	Detail   string
}

func (e *UntrustedError) Error() string { return "manifest " + e.Manifest + ": " + e.Detail }

// summarySize counts the bytes of m that a Summary and Backup.KeyIDs keep.
func summarySize(m *manifest.Manifest) int {
	n := len(m.Plan) + len(m.RunID)
	if m.Source != nil {
		n += len(m.Source.Database)
	}
	if d := m.BackupDigest(); d != nil {
		n += len(d.Algorithm) + len(d.Hex)
	}
	for _, id := range KeyIDs(m) {
		n += len(id)
	}
	return n
}

// LoadManifest reads bk's whole manifest again through ReadManifest, the
// signature gate (the catalogue keeps only its Summary), and checks that it
// is still the one the catalogue listed.
func (bk *Backup) LoadManifest(ctx context.Context, b blob.Backend, t Trust) (*manifest.Manifest, error) {
	signed, err := ReadManifest(ctx, b, bk.Name, t)
	if err != nil {
		return nil, err
	}
	m := signed.Manifest
	if m == nil || !Summarize(m).same(bk.Summary) {
		return nil, fmt.Errorf("manifest %s changed since the backups were listed: list them again", b.URL(manifest.ManifestName(bk.Name)))
	}
	return m, nil
}

// ErrTooLarge matches the error of ReadSmall for a file larger than
// manifest.MaxSize.
var ErrTooLarge = errors.New("file too large")

// ReadSmall reads a sidecar, manifest, record or journal: at most
// manifest.MaxSize bytes, or an error matching ErrTooLarge.
func ReadSmall(ctx context.Context, b blob.Backend, name string) ([]byte, error) {
	rc, err := b.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, manifest.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", b.URL(name), err)
	}
	if len(data) > manifest.MaxSize {
		return nil, &tooLargeError{url: b.URL(name)}
	}
	return data, nil
}

// tooLargeError is a file too large to be sluice's.
type tooLargeError struct{ url string }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d KiB, which no file sluice keeps next to a backup is: repair or remove it", e.url, manifest.MaxSize>>10)
}

func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }
