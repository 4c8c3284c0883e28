package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A File backend's pending object is the temporary file
// ".NAME.sluice-tmp-RANDOM" next to NAME. Commit renames it and Abort
// removes it, but a process killed with SIGKILL (or a machine that lost
// power) does neither: the file stays, invisible to List. ListUploads shows
// these files as unfinished uploads, the way S3 keeps multipart uploads, so
// that a cleanup can find and remove them.

var _ UploadLister = (*File)(nil)

// ListUploads implements UploadLister with the pending files under the
// root. An Upload's ID is the pending file's name relative to the root and
// Started is its last modification, which a writer still streaming keeps
// recent.
func (f *File) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	infos, err := f.walk(ctx, "", true)
	if err != nil {
		return nil, fmt.Errorf("listing pending files under %s: %w", f.URL(""), err)
	}
	out := []Upload{}
	for _, in := range infos {
		name, ok := pendingObject(in.Name)
		if ok && strings.HasPrefix(name, prefix) {
			out = append(out, Upload{Name: name, ID: in.Name, Started: in.ModTime, Marked: true})
		}
	}
	return out, nil
}

// AbortUpload implements UploadLister: it removes the pending file u.ID,
// which must be a pending file of u.Name; one already gone is not an error.
func (f *File) AbortUpload(ctx context.Context, u Upload) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if name, ok := pendingObject(u.ID); !ok || name != u.Name {
		return fmt.Errorf("%q is not a pending file of %s: refusing to remove it", u.ID, f.URL(u.Name))
	}
	p, err := f.path(u.Name) // checks every element of the name
	if err != nil {
		return err
	}
	p = filepath.Join(filepath.Dir(p), path.Base(u.ID))
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("removing pending file %s: %w%s", p, unwrapPath(err), writableHint(err))
	}
	return syncDir(filepath.Dir(p))
}

// pendingObject returns the object a pending file's name (relative to the
// root) would have become: "dir/.NAME.sluice-tmp-RANDOM" is "dir/NAME".
func pendingObject(pending string) (string, bool) {
	dir, base := path.Split(pending)
	obj, random, ok := strings.Cut(strings.TrimPrefix(base, "."), tmpMarker)
	if !ok || !strings.HasPrefix(base, ".") || obj == "" || random == "" || strings.Contains(random, "/") {
		return "", false
	}
	return dir + obj, true
}
