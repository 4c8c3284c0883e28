package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// ReasonNewestVerified keeps the newest verified backup whatever the
// policy says; ReasonNewestUnverified keeps the newest backup when none is
// verified, so that a prune never leaves a destination without a backup.
const (
	ReasonNewestVerified   = "newest verified backup"
	ReasonNewestUnverified = "newest backup (none is verified)"
)

// PruneResult is what a prune decided and did.
type PruneResult struct {
	Decisions []Decision // newest first
	// Protected are the backups kept by ReasonNewestVerified or
	// ReasonNewestUnverified, one per series (see PlanPrune), newest first.
	Protected []*Backup
	Confirmed bool     // false: a dry run, nothing was deleted
	Deleted   []string // object names whose manifest was removed
	// Problems are the manifests that could not be trusted (unsigned,
	// badly signed, unreadable): never kept or deleted by the policy.
	Problems []Problem
}

// Kept and ToDelete count the decisions.
func (r *PruneResult) Kept() int { return len(r.Decisions) - r.ToDelete() }

// ToDelete counts the backups the policy does not keep.
func (r *PruneResult) ToDelete() int {
	n := 0
	for _, d := range r.Decisions {
		if !d.Keep {
			n++
		}
	}
	return n
}

// PlanPrune applies p to each series of the catalogue, the backups of one
// database, and protects in each the newest verified backup (or, when none
// is verified, the newest backup). Several databases often share a
// destination (a fleet, plans/backup.yaml's default): as one series, one
// database's daily backups would push out another's. Not per plan: a plan
// renamed (or exported, which runs it as plan.yaml) would start a series
// that never ages out the old one.
func PlanPrune(c *Catalog, p Policy) (*PruneResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	res := &PruneResult{Problems: c.Problems}
	decided := map[*Backup]Decision{}
	for _, s := range c.series() {
		for _, d := range p.apply(s) {
			decided[d.Backup] = d
		}
		prot, reason := s[len(s)-1], ReasonNewestUnverified
		for i := len(s) - 1; i >= 0; i-- {
			if s[i].Verified() {
				prot, reason = s[i], ReasonNewestVerified
				break
			}
		}
		d := decided[prot]
		d.Keep, d.Reasons = true, append(d.Reasons, reason)
		decided[prot] = d
		res.Protected = append(res.Protected, prot)
	}
	for i := len(c.Backups) - 1; i >= 0; i-- {
		res.Decisions = append(res.Decisions, decided[&c.Backups[i]])
	}
	slices.SortStableFunc(res.Protected, func(a, b *Backup) int { return b.Created().Compare(a.Created()) })
	return res, nil
}

// series splits the backups by database, each oldest first.
func (c *Catalog) series() [][]*Backup {
	index := map[string]int{}
	var out [][]*Backup
	for i := range c.Backups {
		bk := &c.Backups[i]
		key := bk.Summary.Database
		j, ok := index[key]
		if !ok {
			j = len(out)
			index[key] = j
			out = append(out, nil)
		}
		out[j] = append(out[j], bk)
	}
	return out
}

// PruneDest reads the catalogue of b through the signature gate, plans the
// prune and, when confirm is set, deletes. The result is returned with an
// error when deletion stopped part-way (Deleted says how far it got).
func PruneDest(ctx context.Context, b blob.Backend, pol Policy, confirm bool, trust Trust) (*PruneResult, error) {
	c, err := Read(ctx, b, trust)
	if err != nil {
		return nil, err
	}
	res, err := PlanPrune(c, pol)
	if err != nil || !confirm {
		return res, err
	}
	return res, Prune(ctx, b, res)
}

// Outputs renders the result as the prune step's outputs.
func (r *PruneResult) Outputs() map[string]any {
	deleted := map[string]bool{}
	for _, n := range r.Deleted {
		deleted[n] = true
	}
	list := make([]any, 0, len(r.Decisions))
	for _, d := range r.Decisions {
		list = append(list, map[string]any{
			"name": d.Backup.Name, "url": d.Backup.URL, "created": d.Backup.Created().UTC().Format(time.RFC3339Nano),
			"keep": d.Keep, "deleted": deleted[d.Backup.Name], "reasons": runner.List(d.Reasons),
		})
	}
	names := make([]string, len(r.Protected))
	for i, p := range r.Protected {
		names[i] = p.Name
	}
	protected := strings.Join(names, ",")
	return map[string]any{
		"dry_run": !r.Confirmed, "kept": int64(r.Kept()), "to_delete": int64(r.ToDelete()),
		"deleted": int64(len(r.Deleted)), "protected": protected, "backups": list,
		"incomplete": []any{}, "uploads": []any{},
	}
}

// Prune removes the backups res does not keep, oldest first. For each, the
// manifest goes first, then the object, then its sidecars, verify record
// and journal: whenever it stops (a crash, a failed request), no manifest
// points at a missing object, and what is left shows up as incomplete in
// Read. It stops at the first failure.
func Prune(ctx context.Context, b blob.Backend, res *PruneResult) error {
	res.Confirmed = true
	for i := len(res.Decisions) - 1; i >= 0; i-- {
		d := res.Decisions[i]
		if d.Keep {
			continue
		}
		if err := removeBackup(ctx, b, d.Backup); err != nil {
			return fmt.Errorf("pruning %s: %w", d.Backup.URL, err)
		}
		res.Deleted = append(res.Deleted, d.Backup.Name)
	}
	return nil
}

// removeBackup removes one backup in the safe order: the manifest, then
// the object or every part, then the files that go with them.
func removeBackup(ctx context.Context, b blob.Backend, bk *Backup) error {
	names := append(append([]string{manifest.ManifestName(bk.Name)}, bk.PartNames()...), bk.Related...)
	for _, n := range names {
		if err := b.Remove(ctx, n); err != nil && !isNotExist(err) {
			return fmt.Errorf("removing %s: %w", b.URL(n), err)
		}
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, blob.ErrNotExist) }
