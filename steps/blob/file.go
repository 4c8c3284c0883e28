package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// tmpMarker is part of every pending file's name: ".NAME.sluice-tmp-RANDOM"
// can never be mistaken for a backup, and List skips it.
const tmpMarker = ".sluice-tmp-"

// File is the Backend for a local folder. Pending objects are temporary files
// in the destination folder; Commit fsyncs, renames (or hard-links, to refuse
// overwriting atomically) and fsyncs the folder.
type File struct {
	root string
}

var _ Backend = (*File)(nil)

// NewFile returns a backend rooted at the folder root, which need not exist
// yet: Create makes missing folders.
func NewFile(root string) *File {
	return &File{root: filepath.Clean(root)}
}

// URL implements Backend.
func (f *File) URL(name string) string {
	return "file://" + filepath.ToSlash(filepath.Join(f.root, filepath.FromSlash(name)))
}

// path checks name and returns its file-system path.
func (f *File) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("object name %q is invalid: use a relative, slash-separated name", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return "", fmt.Errorf("object name %q is invalid: empty, \".\" and \"..\" elements are not allowed", name)
		}
	}
	if strings.Contains(path.Base(name), tmpMarker) {
		return "", fmt.Errorf("object name %q is invalid: %q is reserved for pending objects", name, tmpMarker)
	}
	return filepath.Join(f.root, filepath.FromSlash(name)), nil
}

// Create implements Backend.
func (f *File) Create(ctx context.Context, name string, opts CreateOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating destination folder %s: %w%s", dir, unwrapPath(err), writableHint(err))
	}
	if !opts.Overwrite {
		if _, err := os.Lstat(p); err == nil {
			return nil, exists(f.URL(name))
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(p)+tmpMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file in %s: %w%s", dir, unwrapPath(err), writableHint(err))
	}
	return &fileWriter{f: tmp, final: p, url: f.URL(name), overwrite: opts.Overwrite}, nil
}

// Put implements Backend.
func (f *File) Put(ctx context.Context, name string, data []byte, opts CreateOptions) error {
	w, err := f.Create(ctx, name, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.Abort())
	}
	if err := w.Commit(ctx); err != nil {
		return errors.Join(err, w.Abort())
	}
	return nil
}

// Open implements Backend.
func (f *File) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, f.statError(name, p, err)
	}
	if st, err := fh.Stat(); err == nil && st.IsDir() {
		fh.Close()
		return nil, fmt.Errorf("object %s is a folder, not an object", f.URL(name))
	}
	return fh, nil
}

// Stat implements Backend.
func (f *File) Stat(ctx context.Context, name string) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	p, err := f.path(name)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, f.statError(name, p, err)
	}
	if st.IsDir() {
		return Info{}, fmt.Errorf("object %s is a folder, not an object", f.URL(name))
	}
	return Info{Name: name, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// statError turns a failed open or stat into a clear message, saying when
// the whole folder is missing.
func (f *File) statError(name, p string, err error) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading object %s: %w", f.URL(name), unwrapPath(err))
	}
	dir := filepath.Dir(p)
	if _, derr := os.Stat(dir); derr != nil {
		return notExist(f.URL(name), "does not exist (its folder "+dir+" does not exist either)")
	}
	return notExist(f.URL(name), "")
}

// List implements Backend.
func (f *File) List(ctx context.Context, prefix string) ([]Info, error) {
	out, err := f.walk(ctx, prefix, false)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", f.URL(prefix), err)
	}
	return out, nil
}

// walk returns, sorted by name, the regular files under the root whose
// slash-separated name starts with prefix: the visible objects or, with
// pending set, the pending files instead.
func (f *File) walk(ctx context.Context, prefix string, pending bool) ([]Info, error) {
	start := f.root
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		start = filepath.Join(f.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Info
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // an empty or missing folder has no objects
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.Contains(d.Name(), tmpMarker) != pending {
			return nil
		}
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		st, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // committed or removed since the folder was read
		} else if err != nil {
			return err
		}
		out = append(out, Info{Name: name, Size: st.Size(), ModTime: st.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove implements Backend.
func (f *File) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notExist(f.URL(name), "")
		}
		return fmt.Errorf("removing object %s: %w%s", f.URL(name), unwrapPath(err), writableHint(err))
	}
	return syncDir(filepath.Dir(p))
}

// unwrapPath drops the *PathError wrapper, whose path our message already
// names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writableHint explains what to do about a permission or read-only error.
func writableHint(err error) string {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return ": the destination is not writable; check its permissions or choose another destination"
	}
	return ""
}

// syncDir fsyncs a folder so that a rename or removal in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, unwrapPath(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing folder %s: %w", dir, unwrapPath(err))
	}
	return nil
}
