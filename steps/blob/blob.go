// Package blob stores whole objects by URL: a backup, its checksum sidecar,
// its manifest. One Backend interface hides the storage (a local folder now,
// S3-compatible services); every implementation passes the shared
// conformance suite in blob/blobtest.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// Backend stores objects under a root (a folder, a bucket and prefix). Object
// names are slash-separated and relative to that root. A Backend never makes
// a half-written object visible: writes go to a pending object that becomes
// visible in one step on Commit.
type Backend interface {
	// URL returns the URL that names the object name, for messages, outputs
	// and manifests.
	URL(name string) string

	// Create starts a pending object written as a stream. Nothing is visible
	// under name until Writer.Commit succeeds. Unless opts.Overwrite is set,
	// Create fails with an error matching ErrExist when name already exists,
	// and Commit fails the same way when it appeared in the meantime.
	Create(ctx context.Context, name string, opts CreateOptions) (Writer, error)

	// Put writes a small object (a sidecar, a manifest) atomically, with the
	// same overwrite rule as Create.
	Put(ctx context.Context, name string, data []byte, opts CreateOptions) error

	// Open returns a reader of the object's content. It fails with an error
	// matching ErrNotExist when there is no such object.
	Open(ctx context.Context, name string) (io.ReadCloser, error)

	// Stat describes one object, or fails with an error matching ErrNotExist.
	Stat(ctx context.Context, name string) (Info, error)

	// List returns the visible objects whose name starts with prefix, sorted
	// by name. Pending objects are never listed.
	List(ctx context.Context, prefix string) ([]Info, error)

	// Remove deletes an object, or fails with an error matching ErrNotExist.
	Remove(ctx context.Context, name string) error
}

// Writer is a pending object. Exactly one of Commit or Abort ends it; Abort
// after a failed Commit is allowed and removes whatever remains.
type Writer interface {
	io.Writer
	// Commit makes everything written visible under the object's name at
	// once.
	Commit(ctx context.Context) error
	// Abort removes everything written. It is a no-op after a successful
	// Commit.
	Abort() error
}

// CreateOptions tune Create and Put.
type CreateOptions struct {
	// Overwrite allows replacing an existing object.
	Overwrite bool
}

// Info describes a visible object.
type Info struct {
	Name    string // relative to the backend's root
	Size    int64
	ModTime time.Time
}

// Sentinel errors, matched with errors.Is.
var (
	ErrNotExist = errors.New("object does not exist")
	ErrExist    = errors.New("object already exists")
)

// objectError is an error about one object that matches a sentinel.
type objectError struct {
	url    string
	detail string
	kind   error
}

func (e *objectError) Error() string     { return "object " + e.url + " " + e.detail }
func (e *objectError) Is(err error) bool { return err == e.kind }

func notExist(url, detail string) error {
	if detail == "" {
		detail = "does not exist"
	}
	return &objectError{url: url, detail: detail, kind: ErrNotExist}
}

func exists(url string) error {
	return &objectError{url: url, detail: "already exists (refusing to overwrite)", kind: ErrExist}
}

// Open resolves a URL that names one object into the backend that holds it
// and the object's name there. Accepted forms: file:///abs/path/obj,
// file://./rel/obj, file://rel/obj and plain paths (relative paths are
// relative to the working directory), and s3://BUCKET/KEY for any
// S3-compatible service, configured as S3ConfigFromEnv says.
func Open(rawURL string) (Backend, string, error) {
	if isS3(rawURL) {
		return openS3(rawURL, false)
	}
	p, err := localPath(rawURL)
	if err != nil {
		return nil, "", err
	}
	if strings.HasSuffix(p, "/") || filepath.Base(p) == "." || filepath.Base(p) == ".." {
		return nil, "", fmt.Errorf("storage URL %q names a folder, not an object: add the object's name", rawURL)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, "", fmt.Errorf("storage URL %q: %w", rawURL, err)
	}
	return NewFile(filepath.Dir(abs)), filepath.Base(abs), nil
}

// OpenRoot resolves a URL that names a folder (or bucket prefix) into a
// backend rooted there, for listing and pruning.
func OpenRoot(rawURL string) (Backend, error) {
	if isS3(rawURL) {
		b, _, err := openS3(rawURL, true)
		return b, err
	}
	p, err := localPath(rawURL)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("storage URL %q: %w", rawURL, err)
	}
	return NewFile(abs), nil
}

// isS3 tells whether rawURL is an s3:// URL.
func isS3(rawURL string) bool {
	scheme, _, found := strings.Cut(rawURL, "://")
	return found && strings.EqualFold(scheme, "s3")
}

// localPath returns the file-system path of a file:// URL or plain path.
func localPath(rawURL string) (string, error) {
	if rawURL == "" {
		return "", errors.New("storage URL is empty: use file:///path/to/object, file://./relative/object or a plain path")
	}
	scheme, rest, found := strings.Cut(rawURL, "://")
	if !found {
		return rawURL, nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return "", fmt.Errorf("storage URL %q has no path", rawURL)
		}
		return rest, nil
	default:
		return "", fmt.Errorf("storage URL %q: unknown scheme %q: use file://, s3:// or a plain path", rawURL, scheme)
	}
}

// RemoveIfExist removes names, those already gone included.
func RemoveIfExist(ctx context.Context, b Backend, names []string) error {
	for _, n := range names {
		if err := b.Remove(ctx, n); err != nil && !errors.Is(err, ErrNotExist) {
			return fmt.Errorf("removing %s: %w", b.URL(n), err)
		}
	}
	return nil
}

// PutMade writes name as one file of a multi-object commit and records it
// in made for RemoveMade: after success, and after a failure the service
// may have carried out anyway (its reply lost) when the name was free
// (not overwriting, and not refused as existing).
func PutMade(ctx context.Context, b Backend, name string, data []byte, opts CreateOptions, made *[]string) error {
	err := b.Put(ctx, name, data, opts)
	if err == nil || !opts.Overwrite && !errors.Is(err, ErrExist) {
		*made = append(*made, name)
	}
	return err
}

// RemoveMade removes objects a failed multi-object commit made visible,
// newest first, so that what is left never looks more complete than what
// was there before. It runs on its own deadline: the commit's context may
// be the reason it failed.
func RemoveMade(b Backend, made []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if err := b.Remove(ctx, made[i]); err != nil && !errors.Is(err, ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %s after a failed commit: %w; delete it by hand", b.URL(made[i]), err))
		}
	}
	return errors.Join(errs...)
}
