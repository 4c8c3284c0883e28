package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fileWriter is a pending object of the File backend: a temporary file next
// to its final name.
type fileWriter struct {
	f         *os.File
	final     string
	url       string
	overwrite bool

	closed  bool // f is closed
	visible bool // the final name exists and is ours
	done    bool // committed successfully
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("writing object %s: already committed or aborted", w.url)
	}
	n, err := w.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("writing object %s: %w%s", w.url, unwrapPath(err), writableHint(err))
	}
	return n, nil
}

// Commit fsyncs the temporary file, moves it to its final name and fsyncs
// the folder. Without overwrite it hard-links (which fails when the name
// exists) instead of renaming, so a concurrent writer is never clobbered.
func (w *fileWriter) Commit(ctx context.Context) error {
	if w.closed {
		return fmt.Errorf("committing object %s: already committed or aborted", w.url)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("committing object %s: %w", w.url, err)
	}
	tmp := w.f.Name()
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.closed = true
	if err != nil {
		return fmt.Errorf("committing object %s: flushing to disk: %w%s", w.url, unwrapPath(err), writableHint(err))
	}
	if w.overwrite {
		err = os.Rename(tmp, w.final)
	} else {
		err = w.linkNoClobber(tmp)
	}
	if err != nil {
		return err
	}
	w.visible = true
	if err := syncDir(filepath.Dir(w.final)); err != nil {
		return fmt.Errorf("committing object %s: %w", w.url, err)
	}
	w.done = true
	return nil
}

// linkNoClobber gives tmp its final name unless that name exists.
func (w *fileWriter) linkNoClobber(tmp string) error {
	err := os.Link(tmp, w.final)
	switch {
	case err == nil:
		w.visible = true // a failure from here on leaves Abort to remove it
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("committing object %s: removing temporary file: %w", w.url, unwrapPath(err))
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		return exists(w.url)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EMLINK):
		// The file system has no hard links: check, then rename. The window
		// between the two is small and only matters for concurrent writers.
		if _, serr := os.Lstat(w.final); serr == nil {
			return exists(w.url)
		}
		if err := os.Rename(tmp, w.final); err != nil {
			return fmt.Errorf("committing object %s: %w%s", w.url, unwrapPath(err), writableHint(err))
		}
		return nil
	default:
		return fmt.Errorf("committing object %s: %w%s", w.url, unwrapPath(err), writableHint(err))
	}
}

// Abort removes the temporary file, and the final one if a failed Commit
// already made it visible.
func (w *fileWriter) Abort() error {
	if w.done {
		return nil
	}
	var errs []error
	if !w.closed {
		w.closed = true
		if err := w.f.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing temporary file of %s: %w", w.url, unwrapPath(err)))
	}
	if w.visible {
		w.visible = false
		if err := os.Remove(w.final); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing object %s: %w", w.url, unwrapPath(err)))
		}
	}
	return errors.Join(errs...)
}
