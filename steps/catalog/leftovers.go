package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// Leftover is an incomplete object (no manifest) and its fate.
type Leftover struct {
	Incomplete
	Remove  bool // older than the cutoff: removed unless a dry run
	Removed bool
	Note    string // why it was kept or skipped, when it was
}

// UploadLeftover is an unfinished upload and its fate.
type UploadLeftover struct {
	blob.Upload
	Abort   bool // older than the cutoff: aborted unless a dry run
	Aborted bool
}

// LeftoverResult is what a cleanup of incomplete leftovers decided and did.
// Complete backups are never part of it.
type LeftoverResult struct {
	Root      string
	OlderThan time.Duration
	Objects   []Leftover       // by name
	Uploads   []UploadLeftover // empty for backends without unfinished uploads
	Confirmed bool             // false: a dry run, nothing was removed
}

// ToRemove counts the objects and uploads old enough to go.
func (r *LeftoverResult) ToRemove() (objects, uploads int) {
	for _, o := range r.Objects {
		if o.Remove {
			objects++
		}
	}
	for _, u := range r.Uploads {
		if u.Abort {
			uploads++
		}
	}
	return objects, uploads
}

// LeftoversDest reads the catalogue of b, selects the incomplete objects
// and unfinished uploads older than olderThan and, when confirm is set,
// removes them. The result is returned with an error when removal stopped
// part-way (Removed and Aborted say how far it got).
func LeftoversDest(ctx context.Context, b blob.Backend, olderThan time.Duration, confirm bool) (*LeftoverResult, error) {
	// Leftovers are objects without a manifest: what a manifest says is not
	// needed, so none is trusted (the zero Trust).
	c, err := Read(ctx, b, Trust{})
	if err != nil {
		return nil, err
	}
	res, err := PlanLeftovers(ctx, b, c, olderThan, time.Now())
	if err != nil || !confirm {
		return res, err
	}
	return res, RemoveLeftovers(ctx, b, res)
}

// Outputs renders the result as the prune step's outputs with incomplete
// set.
func (r *LeftoverResult) Outputs() map[string]any {
	objs := make([]any, 0, len(r.Objects))
	var kept, removed int64
	for _, o := range r.Objects {
		if !o.Remove {
			kept++
		}
		if o.Removed {
			removed++
		}
		objs = append(objs, map[string]any{
			"name": o.Name, "url": o.URL, "size": o.Size, "modified": o.ModTime.UTC().Format(time.RFC3339Nano),
			"files": runner.List(o.Related), "object_missing": o.ObjectMissing, "remove": o.Remove, "removed": o.Removed, "note": o.Note,
		})
	}
	ups := make([]any, 0, len(r.Uploads))
	for _, u := range r.Uploads {
		if !u.Abort {
			kept++
		}
		if u.Aborted {
			removed++
		}
		ups = append(ups, map[string]any{
			"name": u.Name, "id": u.ID, "started": u.Started.UTC().Format(time.RFC3339Nano), "abort": u.Abort, "aborted": u.Aborted,
		})
	}
	o, u := r.ToRemove()
	return map[string]any{
		"dry_run": !r.Confirmed, "kept": kept, "to_delete": int64(o + u), "deleted": removed,
		"protected": "", "backups": []any{}, "incomplete": objs, "uploads": ups,
	}
}

// PlanLeftovers selects the catalogue's incomplete objects, and b's
// unfinished uploads (see Unfinished), last modified (S3 uploads: started)
// more than olderThan before now. The age spares a backup being
// written at this moment, whose object exists before its manifest.
func PlanLeftovers(ctx context.Context, b blob.Backend, c *Catalog, olderThan time.Duration, now time.Time) (*LeftoverResult, error) {
	if olderThan < 0 {
		return nil, fmt.Errorf("incomplete age %s is negative: use 0 for any age, or a duration such as 24h", olderThan)
	}
	cutoff := now.Add(-olderThan)
	res := &LeftoverResult{Root: c.Root, OlderThan: olderThan, Objects: []Leftover{}, Uploads: []UploadLeftover{}}
	for _, in := range c.Incomplete {
		lo := Leftover{Incomplete: in, Remove: !in.ModTime.After(cutoff)}
		if !lo.Remove {
			lo.Note = "modified within " + olderThan.String() + ": may be a backup being written"
		}
		res.Objects = append(res.Objects, lo)
	}
	ups, err := Unfinished(ctx, b)
	if err != nil {
		return nil, err
	}
	for _, u := range ups {
		// A destination may be shared: another tool's multipart upload is
		// not sluice's to abort, whatever its age.
		if _, _, part := manifest.PartOwner(u.Name); !u.Marked && !isEncryptedName(u.Name) && !part {
			continue
		}
		res.Uploads = append(res.Uploads, UploadLeftover{Upload: u, Abort: !u.Started.After(cutoff)})
	}
	return res, nil
}

// Unfinished returns the uploads under b's root that were neither committed
// nor aborted, when b keeps them (blob.UploadLister): the pending files a
// killed run leaves on file://, the multipart uploads on s3://.
func Unfinished(ctx context.Context, b blob.Backend) ([]blob.Upload, error) {
	ul, ok := b.(blob.UploadLister)
	if !ok {
		return []blob.Upload{}, nil
	}
	ups, err := ul.ListUploads(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing unfinished uploads under %s: %w", b.URL(""), err)
	}
	return ups, nil
}

// RemoveLeftovers removes the objects res selects, each with its sidecars,
// records and journals (of an object already gone, only those), and aborts
// the uploads it selects. Just before
// removing an object it checks again that the object has no manifest, so
// that a backup completed since the catalogue was read is left alone. It
// stops at the first failure.
func RemoveLeftovers(ctx context.Context, b blob.Backend, res *LeftoverResult) error {
	res.Confirmed = true
	for i := range res.Objects {
		lo := &res.Objects[i]
		if !lo.Remove {
			continue
		}
		_, err := b.Stat(ctx, manifest.ManifestName(lo.Name))
		if isNotExist(err) {
			if owner, _, ok := manifest.PartOwner(lo.Name); ok {
				_, err = b.Stat(ctx, manifest.ManifestName(owner))
			}
		}
		switch {
		case err == nil:
			lo.Remove, lo.Note = false, "its manifest appeared: it is a complete backup now"
			continue
		case !isNotExist(err):
			return fmt.Errorf("removing incomplete %s: %w", lo.URL, err)
		}
		files := lo.Related
		if !lo.ObjectMissing {
			files = append([]string{lo.Name}, files...)
		}
		for _, n := range files {
			if err := b.Remove(ctx, n); err != nil && !isNotExist(err) {
				return fmt.Errorf("removing incomplete %s: removing %s: %w", lo.URL, b.URL(n), err)
			}
		}
		lo.Removed = true
	}
	ul, _ := b.(blob.UploadLister)
	for i := range res.Uploads {
		u := &res.Uploads[i]
		if !u.Abort || ul == nil {
			continue
		}
		if err := ul.AbortUpload(ctx, u.Upload); err != nil {
			return fmt.Errorf("aborting the unfinished upload of %s: %w", b.URL(u.Name), err)
		}
		u.Aborted = true
	}
	return nil
}
