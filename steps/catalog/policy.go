package catalog

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// Policy says which backups to keep, with restic's semantics (restic
// forget): every rule is applied to the backups from the newest to the
// oldest, independently of the others, and a backup is kept when any rule
// keeps it.
//
//   - Last n keeps the n newest backups.
//   - Daily, Weekly, Monthly, Yearly n keep, for each of the n newest days
//     (ISO weeks, months, years) that have a backup, the newest backup of
//     that period. Periods are calendar periods in UTC.
//   - Within keeps every backup created within that span before the newest
//     backup (not before now: a destination that stopped receiving backups
//     is not emptied by the clock).
//
// A count of -1 means unlimited. A policy with no rule keeps everything and
// Validate rejects it, so that a forgotten setting never deletes.
type Policy struct {
	Last    int
	Daily   int
	Weekly  int
	Monthly int
	Yearly  int
	Within  runner.Duration // calendar months and days (runner.ParseRetention reads restic's spans)
}

// Empty tells whether no rule is set.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within.IsZero()
}

// Validate rejects an empty policy and counts below -1.
func (p Policy) Validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"keep_last", p.Last}, {"keep_daily", p.Daily}, {"keep_weekly", p.Weekly}, {"keep_monthly", p.Monthly}, {"keep_yearly", p.Yearly}} {
		if c.n < -1 {
			return fmt.Errorf("%s is %d: use a count, or -1 for unlimited", c.name, c.n)
		}
	}
	if p.Empty() {
		return errors.New("retention policy is empty: set at least one of keep_last, keep_daily, keep_weekly, keep_monthly, keep_yearly or keep_within")
	}
	return nil
}

// Decision is the fate of one backup.
type Decision struct {
	Backup  *Backup
	Keep    bool
	Reasons []string // why it is kept, e.g. "last 1", "daily 2026-11-26"
}

// bucketRule keeps the newest backup of each of the Count newest periods.
type bucketRule struct {
	name   string
	count  int
	period func(time.Time) string
	last   string
}

// Apply decides for each backup, newest first, as one series (see
// PlanPrune for a destination of several). backups must be sorted oldest
// first, as Catalog.Backups is.
func (p Policy) Apply(backups []Backup) []Decision {
	ptrs := make([]*Backup, len(backups))
	for i := range backups {
		ptrs[i] = &backups[i]
	}
	return p.apply(ptrs)
}

func (p Policy) apply(backups []*Backup) []Decision {
	rules := []*bucketRule{
		{name: "last", count: p.Last, period: nil},
		{name: "daily", count: p.Daily, period: func(t time.Time) string { return t.Format("2006-01-02") }},
		{name: "weekly", count: p.Weekly, period: func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{name: "monthly", count: p.Monthly, period: func(t time.Time) string { return t.Format("2006-01") }},
		{name: "yearly", count: p.Yearly, period: func(t time.Time) string { return t.Format("2006") }},
	}
	out := make([]Decision, 0, len(backups))
	var cutoff time.Time
	if n := len(backups); n > 0 && !p.Within.IsZero() {
		cutoff = p.Within.Before(backups[n-1].Created())
	}
	for i := len(backups) - 1; i >= 0; i-- {
		bk := backups[i]
		t := bk.Created().UTC()
		d := Decision{Backup: bk}
		for _, r := range rules {
			if r.count == 0 {
				continue
			}
			if r.period == nil {
				d.Reasons = append(d.Reasons, fmt.Sprintf("last %d", len(out)+1))
				r.count--
				continue
			}
			if pr := r.period(t); pr != r.last {
				d.Reasons = append(d.Reasons, r.name+" "+pr)
				r.last = pr
				r.count--
			}
		}
		if !cutoff.IsZero() && t.After(cutoff) {
			d.Reasons = append(d.Reasons, "within "+p.Within.String())
		}
		d.Keep = len(d.Reasons) > 0
		out = append(out, d)
	}
	return out
}
