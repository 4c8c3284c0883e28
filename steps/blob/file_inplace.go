package blob

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenInPlace opens the existing object name for writing in place, for a
// rewrite that keeps its size (a re-wrapped age header). Storage is
// untrusted, so nothing may redirect that write to another file: its
// folders are resolved inside the backend's root (os.Root: a symbolic link
// that leaves it is refused), its last element is opened with O_NOFOLLOW
// (any symbolic link is refused), and the opened file, not the path, must
// be a regular file with a single link.
func (f *File) OpenInPlace(ctx context.Context, name string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		return nil, fmt.Errorf("opening object %s for an in-place write: %w", f.URL(name), err)
	}
	root, err := os.OpenRoot(f.root)
	if err != nil {
		return fail(unwrapPath(err))
	}
	defer root.Close()
	rel := filepath.FromSlash(name)
	dir, err := root.Open(filepath.Dir(rel))
	if err != nil {
		return fail(err)
	}
	defer dir.Close()
	// O_NONBLOCK: a FIFO planted in place of the object must not hang us.
	fd, err := unix.Openat(int(dir.Fd()), filepath.Base(rel), unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return fail(errors.New("it is a symbolic link: sluice does not write through links in storage; replace it with the real file"))
	case err != nil:
		return fail(err)
	}
	fh := os.NewFile(uintptr(fd), p)
	st, err := fh.Stat()
	if err == nil {
		err = inPlaceTarget(st)
	}
	if err != nil {
		fh.Close()
		return fail(err)
	}
	return fh, nil
}

// inPlaceTarget checks the opened file: regular, with one link (a hard link
// would carry the write into the other name's file too).
func inPlaceTarget(st os.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("it is not a regular file (%s)", st.Mode().Type())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink != 1 {
		return fmt.Errorf("it has %d hard links: a write in place would change the other names too; copy it to a file of its own", sys.Nlink)
	}
	return nil
}
