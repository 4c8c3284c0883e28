package steps

import (
	"context"
	"errors"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
)

// Prune is the parameter struct of the prune step: retention of the backups
// under a folder by restic's rules (see catalog.Policy). It is a dry run
// unless confirm is set, and never deletes the newest verified backup.
type Prune struct {
	From        string          `yaml:"from" required:"true" doc:"folder (or bucket prefix) holding the backups: file:///abs/path, file://./relative, a plain path or s3://BUCKET/PREFIX"`
	KeepLast    int             `yaml:"keep_last" doc:"keep the n newest backups (-1: all)"`
	KeepDaily   int             `yaml:"keep_daily" doc:"keep the newest backup of each of the n newest days (UTC) that have one (-1: every day)"`
	KeepWeekly  int             `yaml:"keep_weekly" doc:"the same per ISO week"`
	KeepMonthly int             `yaml:"keep_monthly" doc:"the same per calendar month"`
	KeepYearly  int             `yaml:"keep_yearly" doc:"the same per calendar year"`
	KeepWithin  runner.Duration `yaml:"keep_within" duration:"retention" doc:"keep every backup created within this span before the newest backup, e.g. 14d, 2w, 6mo, 1y, 36h (as in restic, 6m is 6 months here)"`
	Confirm     bool            `yaml:"confirm" doc:"delete; without it prune only reports what it would delete"`
	// Incomplete switches the step from retention to leftovers.
	Incomplete          bool            `yaml:"incomplete" doc:"instead of retention, remove sluice's incomplete leftovers: its objects without a manifest (with their sidecars, records and journals; files not named the way sluice names them are never touched) and unfinished uploads (pending files a killed run left on file://, multipart uploads on s3://); complete backups are never touched"`
	IncompleteOlderThan runner.Duration `yaml:"incomplete_older_than" default:"24h" doc:"with incomplete: only leftovers last modified (s3:// uploads: started) longer ago than this; it spares a backup being written now, whose object exists before its manifest"`
	VerifyWith          runner.KeyName  `yaml:"verify_with" doc:"the plan's keys: entry whose verification keys check each manifest's signature before its created time counts for retention (public parts suffice); default: the plan's only keys: entry"`
	AllowUnsigned       bool            `yaml:"allow_unsigned" doc:"count backups whose manifest is not signed (logged as a warning); without it they are problems, never kept or deleted by the policy"`
}

var (
	_ runner.Action    = (*Prune)(nil)
	_ runner.Validator = (*Prune)(nil)
)

func pruneDefinition() runner.Definition {
	return runner.Definition{
		Type:    "prune",
		Kind:    runner.KindAction,
		Summary: "Delete the backups a retention policy does not keep (dry run unless confirm), never the newest verified one; manifest first",
		New:     func() any { return &Prune{} },
		Outputs: []runner.OutputSpec{
			{Name: "dry_run", Type: "bool", Doc: "true when confirm was not set: nothing was deleted"},
			{Name: "kept", Type: "int", Doc: "backups kept (with incomplete: leftovers kept as too recent)"},
			{Name: "to_delete", Type: "int", Doc: "backups the policy does not keep (with incomplete: leftovers old enough), deleted unless dry_run"},
			{Name: "deleted", Type: "int", Doc: "backups (with incomplete: leftover objects and uploads) deleted; 0 in a dry run"},
			{Name: "protected", Type: "string", Doc: "the backups kept as the newest verified one (or the newest, when none is verified) of each series (the backups of one database), comma-separated, newest first; empty when there is none"},
			{Name: "backups", Type: "list", Doc: "one map per backup, newest first: name, url, created, keep, deleted, reasons"},
			{Name: "incomplete", Type: "list", Doc: "with incomplete: one map per leftover of sluice's (an object without a manifest, or the files of one that is gone): name, url, size, modified, files, object_missing, remove, removed, note"},
			{Name: "uploads", Type: "list", Doc: "with incomplete: one map per unfinished upload (file://: a pending file, id its name; s3://: a multipart upload): name, id, started, abort, aborted"},
		},
	}
}

// Policy returns the retention policy the parameters describe.
func (p *Prune) Policy() (catalog.Policy, error) {
	pol := catalog.Policy{Last: p.KeepLast, Daily: p.KeepDaily, Weekly: p.KeepWeekly, Monthly: p.KeepMonthly, Yearly: p.KeepYearly, Within: p.KeepWithin}
	return pol, pol.Validate()
}

// Validate checks the policy and the storage URL.
func (p *Prune) Validate() error {
	if p.Incomplete {
		if pol, err := p.Policy(); err == nil || !pol.Empty() {
			return errors.New("incomplete: true removes leftovers only: drop the keep_* settings, or apply retention in a second prune step")
		}
	} else if _, err := p.Policy(); err != nil {
		return err
	}
	_, err := blob.OpenRoot(p.From)
	return err
}

// Run plans the prune and, with confirm, carries it out.
func (p *Prune) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	b, err := blob.OpenRoot(p.From)
	if err != nil {
		return nil, err
	}
	if p.Incomplete {
		res, err := catalog.LeftoversDest(ctx, b, p.IncompleteOlderThan.Std(), p.Confirm)
		if res == nil {
			return nil, err
		}
		if o, u := res.ToRemove(); !p.Confirm && o+u > 0 {
			sc.Logger.Warn("dry run: nothing removed; set confirm: true to remove", "objects", o, "uploads", u)
		}
		return res.Outputs(), err
	}
	pol, err := p.Policy()
	if err != nil {
		return nil, err
	}
	trust, err := catalog.PlanTrust(sc.Keys, p.VerifyWith, p.AllowUnsigned, sc.Logger.Warn)
	if err != nil {
		return nil, err
	}
	res, err := catalog.PruneDest(ctx, b, pol, p.Confirm, trust)
	if res == nil {
		return nil, err
	}
	if !p.Confirm && res.ToDelete() > 0 {
		sc.Logger.Warn("dry run: nothing deleted; set confirm: true to delete", "to_delete", res.ToDelete())
	}
	return res.Outputs(), err
}
