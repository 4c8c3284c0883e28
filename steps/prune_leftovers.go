package steps

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
)

// runIncomplete is the prune step with incomplete: true.
func (p *Prune) runIncomplete(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	b, err := blob.OpenRoot(p.From)
	if err != nil {
		return nil, err
	}
	res, err := LeftoversDest(ctx, b, p.IncompleteOlderThan, p.Confirm)
	if res == nil {
		return nil, err
	}
	if o, u := res.ToRemove(); sc != nil && sc.Logger != nil && !p.Confirm && o+u > 0 {
		sc.Logger.Warn("dry run: nothing removed; set confirm: true to remove", "objects", o, "uploads", u)
	}
	return LeftoverOutputs(res), err
}

// LeftoversDest reads the catalogue of b, selects the incomplete objects
// and unfinished uploads older than olderThan and, when confirm is set,
// removes them. The result is returned with an error when removal stopped
// part-way (Removed and Aborted say how far it got).
func LeftoversDest(ctx context.Context, b blob.Backend, olderThan time.Duration, confirm bool) (*catalog.LeftoverResult, error) {
	// Leftovers are objects without a manifest: what a manifest says is not
	// needed, so none is trusted (the zero Trust).
	c, err := catalog.Read(ctx, b, catalog.Trust{})
	if err != nil {
		return nil, err
	}
	res, err := catalog.PlanLeftovers(ctx, b, c, olderThan, time.Now())
	if err != nil || !confirm {
		return res, err
	}
	return res, catalog.RemoveLeftovers(ctx, b, res)
}

// LeftoverOutputs renders a leftovers result as the prune step's outputs.
func LeftoverOutputs(res *catalog.LeftoverResult) runner.Outputs {
	objs := make([]any, 0, len(res.Objects))
	var kept, removed int64
	for _, o := range res.Objects {
		if !o.Remove {
			kept++
		}
		if o.Removed {
			removed++
		}
		objs = append(objs, map[string]any{
			"name": o.Name, "url": o.URL, "size": o.Size, "modified": o.ModTime.UTC().Format(time.RFC3339Nano),
			"files": ageList(o.Related), "object_missing": o.ObjectMissing, "remove": o.Remove, "removed": o.Removed, "note": o.Note,
		})
	}
	ups := make([]any, 0, len(res.Uploads))
	for _, u := range res.Uploads {
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
	o, u := res.ToRemove()
	return runner.Outputs{
		"dry_run": !res.Confirmed, "kept": kept, "to_delete": int64(o + u), "deleted": removed,
		"protected": "", "backups": []any{}, "incomplete": objs, "uploads": ups,
	}
}
