package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/reportview"
	"github.com/sluice-dev/sluice/steps/rotation"
)

// RotateKey is the parameter struct of the rotate-key step: it rotates a dir
// key store (new key active, previous one retired, ledger entry) under the
// store's lock, and optionally moves the backups under a destination onto the
// new key.
type RotateKey struct {
	Key      runner.KeyName  `yaml:"key" required:"true" doc:"the plan's keys: entry (a dir store) to rotate"`
	Type     string          `yaml:"type" default:"mlkem768x25519" enum:"mlkem768x25519,x25519" doc:"type of the new key: mlkem768x25519 (post-quantum hybrid) or x25519 (readable by age before 1.3)"`
	MaxAge   runner.Duration `yaml:"max_age" doc:"rotate only when the active key has been active this long, e.g. 180d, 6mo or 4320h; empty rotates always"`
	Reason   string          `yaml:"reason" doc:"why, recorded in the ledger"`
	DryRun   bool            `yaml:"dry_run" doc:"report what would happen and change nothing"`
	LockWait runner.Duration `yaml:"lock_wait" default:"0s" doc:"how long to wait for another rotation holding the store's lock; 0 fails at once"`
	Rewrap   *RotateRewrap   `yaml:"rewrap" doc:"move existing backups onto the active key after the rotation decision"`
}

// RotateRewrap says where the backups to move are and how.
type RotateRewrap struct {
	Dest   string `yaml:"dest" doc:"folder URL holding the backups and their manifests (file://, a path or s3://); default: every destination the store's ledger knows (recorded by upload steps and sluice keys dest add)"`
	Mode   string `yaml:"mode" default:"rewrap" enum:"rewrap,reencrypt" doc:"rewrap (new header, payload unchanged) or reencrypt (new file key, for a compromised key)"`
	Verify string `yaml:"verify" default:"first-chunk" enum:"first-chunk,full,none" doc:"how much to decrypt with the active key after the move: the first chunk, all of it, or nothing"`
	// AllowUnsigned adopts unsigned backups: they are moved and signed.
	AllowUnsigned bool `yaml:"allow_unsigned" doc:"also move backups whose manifest is not signed (made before signing), and sign their new manifests: only for backups known to be yours (logged as a warning)"`
}

var (
	_ runner.Action    = (*RotateKey)(nil)
	_ runner.Validator = (*RotateKey)(nil)
)

func rotateKeyDefinition() runner.Definition {
	return runner.Definition{
		Type:    "rotate-key",
		Kind:    runner.KindAction,
		Summary: "Rotate a key store (new active key, previous retired, ledger entry) and move backups onto it by header re-wrap or re-encryption",
		New:     func() any { return &RotateKey{} },
		Outcome: rotateKeyOutcome,
		Section: reportview.KeyChanges,
		Outputs: []runner.OutputSpec{
			{Name: "rotated", Type: "bool", Doc: "whether a new key was activated (or would be, in a dry run)"},
			{Name: "active_key_id", Type: "string", Doc: "id of the active key afterwards (empty for a dry-run rotation)"},
			{Name: "previous_key_id", Type: "string", Doc: "id of the key that was active before"},
			{Name: "active_key_age_days", Type: "number", Doc: "how long the previously active key had been active, in days"},
			{Name: "dry_run", Type: "bool", Doc: "whether nothing was changed"},
			{Name: "max_age", Type: "string", Doc: "the max_age the rotation was decided by (e.g. 180d); empty when it rotates always"},
			{Name: "rewrapped", Type: "int", Doc: "backups moved onto the active key (and verified)"},
			{Name: "rewrapped_in_place", Type: "int", Doc: "of those, headers rewritten in place (cost independent of size)"},
			{Name: "skipped", Type: "int", Doc: "backups already on the active key (or on keys not in this store)"},
			{Name: "failed", Type: "int", Doc: "backups that could not be moved or verified"},
			{Name: "failures", Type: "list", Doc: "one message per failed backup"},
			{Name: "still_on_retired_keys", Type: "int", Doc: "backups whose manifest still names a retired key of the store"},
			{Name: "destinations", Type: "list", Doc: "the folder URLs the rewrap looked in"},
			{Name: "backups_found", Type: "int", Doc: "backups found there (a rotation that finds none warns: is dest right?)"},
			{Name: "unchecked_destinations", Type: "list", Doc: "destinations the store's ledger knows that the rewrap did not look in: backups there may still need a retired key"},
			{Name: "warnings", Type: "list", Doc: "what deserves a look, each also logged: no backups found under a destination, known destinations not looked in"},
		},
	}
}

// rotateKeyOutcome says whether the store rotated, and why not, and what
// happened to the backups.
func rotateKeyOutcome(o runner.Outputs) string {
	age := fmt.Sprintf("%.0f day%s old", o.Float("active_key_age_days"), runner.Plural(int64(o.Float("active_key_age_days")+0.5)))
	var line string
	switch {
	case !o.Bool("rotated"):
		line = fmt.Sprintf("not rotated: active key %s is %s", o.String("active_key_id"), age)
		if m := o.String("max_age"); m != "" {
			line += ", max_age " + m
		}
	case o.Bool("dry_run"):
		line = fmt.Sprintf("dry run: would rotate active key %s (%s)", o.String("previous_key_id"), age)
	default:
		line = fmt.Sprintf("rotated: key %s active, %s retired (it was %s)", o.String("active_key_id"), o.String("previous_key_id"), age)
	}
	dests := outStrings(o["destinations"])
	if !o.Bool("dry_run") && (o.Bool("rotated") || o.Int("rewrapped") > 0) {
		n := o.Int("rewrapped")
		line += fmt.Sprintf("; rewrapped %d backup%s", n, runner.Plural(n))
		if len(dests) > 0 {
			line += " under " + strings.Join(dests, ", ")
		}
	}
	if n := o.Int("failed"); n > 0 {
		line += fmt.Sprintf(", %d failed", n)
	}
	if n := o.Int("still_on_retired_keys"); n > 0 {
		line += fmt.Sprintf("; %d backup%s still on retired keys", n, runner.Plural(n))
	}
	// The warnings in short (the warnings output has them in full).
	if len(dests) > 0 && o.Int("backups_found") == 0 {
		line += "; warning: no backups under " + strings.Join(dests, ", ")
	}
	if u := outStrings(o["unchecked_destinations"]); len(u) > 0 {
		line += "; warning: not looked in although the ledger records backups there: " + strings.Join(u, ", ")
	}
	return line
}

// Validate checks the rewrap destination.
func (p *RotateKey) Validate() error {
	if w := p.Rewrap; w != nil && w.Dest != "" {
		if _, err := blob.OpenRoot(w.Dest); err != nil {
			return fmt.Errorf("rewrap: %w", err)
		}
	}
	return nil
}

// Run rotates under the store's lock, then moves the backups.
func (p *RotateKey) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	var maxAge time.Duration
	if !p.MaxAge.IsZero() {
		// A key is old when it was activated before now minus max_age, on
		// the calendar: 6mo is six calendar months.
		now := time.Now()
		maxAge = now.Sub(p.MaxAge.Before(now))
	}
	store, err := keys.OpenEntry(sc.Keys, string(p.Key))
	if err != nil {
		return nil, err
	}
	d, ok := store.(*keys.Dir)
	if !ok {
		return nil, fmt.Errorf("key store %q is not a dir store: only dir stores can be rotated", p.Key)
	}
	if !p.DryRun {
		unlock, err := d.Lock(ctx, p.LockWait.Std())
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	// Where to move backups is settled before the rotation: a rewrap
	// that has nowhere to look fails before any key changes.
	var dests []string
	if p.Rewrap != nil {
		if dests, err = p.destinations(d); err != nil {
			return nil, err
		}
	}
	res, err := d.Rotate(keys.RotateOptions{Type: p.Type, Reason: p.Reason, MaxAge: maxAge, DryRun: p.DryRun})
	if err != nil {
		return nil, fmt.Errorf("rotating key store %q: %w", p.Key, err)
	}
	maxAgeText := ""
	if !p.MaxAge.IsZero() {
		maxAgeText = p.MaxAge.String()
	}
	out := runner.Outputs{
		"rotated":             res.Rotated,
		"active_key_id":       res.Active.ID,
		"previous_key_id":     res.Previous.ID,
		"active_key_age_days": res.Age.Hours() / 24,
		"dry_run":             p.DryRun,
		"max_age":             maxAgeText,
		"rewrapped":           int64(0), "rewrapped_in_place": int64(0), "skipped": int64(0),
		"failed": int64(0), "failures": []any{}, "still_on_retired_keys": int64(0),
		"destinations": []any{}, "backups_found": int64(0), "unchecked_destinations": []any{}, "warnings": []any{},
	}
	sc.Logger.Info("key rotation", "rotated", res.Rotated, "active", res.Active.ID, "previous", res.Previous.ID, "dry_run", p.DryRun)
	if p.Rewrap == nil {
		return out, nil
	}
	return out, p.rewrap(ctx, sc, d, dests, out)
}

// destinations returns the canonical folder URLs to move backups under:
// rewrap.dest, or every destination the store's ledger knows.
func (p *RotateKey) destinations(d *keys.Dir) ([]string, error) {
	if p.Rewrap.Dest != "" {
		u, err := blob.FolderURL(p.Rewrap.Dest)
		if err != nil {
			return nil, fmt.Errorf("rewrap: %w", err)
		}
		return []string{u}, nil
	}
	var out []string
	for _, k := range d.Destinations() {
		out = append(out, k.URL)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rewrap: no dest, and the ledger of key store %q (%s) knows no destination: set rewrap.dest to the folder of the backups, or record it with sluice keys dest add %s URL", p.Key, d.Path(), d.Path())
	}
	return out, nil
}

// rewrap moves the backups under each destination and fills the rewrap
// outputs, warning about destinations without backups and about those
// the ledger knows that were not looked in.
func (p *RotateKey) rewrap(ctx context.Context, sc *runner.StepContext, d *keys.Dir, dests []string, out runner.Outputs) error {
	var warnings []string
	warn := func(msg string) {
		warnings = append(warnings, msg)
		sc.Logger.Warn(msg)
	}
	defer func() { out["warnings"] = runner.List(warnings) }()
	out["destinations"] = runner.List(dests)
	var unchecked []string
	for _, k := range keys.Uncovered(d.Destinations(), dests) {
		unchecked = append(unchecked, k.URL)
		warn(fmt.Sprintf("the ledger of key store %q records backups written to %s (since %s, by %s), which rewrap.dest does not cover: backups there stay on the retired key; leave rewrap.dest empty to move the backups of every known destination", p.Key, k.URL, k.Since.Format("2006-01-02"), k.By))
	}
	out["unchecked_destinations"] = runner.List(unchecked)
	if p.Rewrap.AllowUnsigned {
		sc.Logger.Warn("rewrap allow_unsigned is set: unsigned backups are moved and signed; nothing proves where they came from")
	}
	var total rotation.Result
	for _, dest := range dests {
		b, err := blob.OpenRoot(dest)
		if err != nil {
			return err
		}
		r, err := rotation.New(b, d, rotation.Options{Mode: p.Rewrap.Mode, Verify: p.Rewrap.Verify,
			AllowUnsigned: p.Rewrap.AllowUnsigned, Warn: sc.Logger.Warn})
		if err != nil {
			return fmt.Errorf("rewrap: %w", err)
		}
		var res rotation.Result
		if p.DryRun {
			res, err = r.Survey(ctx)
		} else {
			res, err = r.Run(ctx)
		}
		if err != nil {
			return fmt.Errorf("rewrap of %s: %w", dest, err)
		}
		if res.Found == 0 {
			warn(fmt.Sprintf("no backups under %s: is it where the backups of key store %q are? (keys list %s shows the destinations its ledger knows)", dest, p.Key, d.Path()))
		}
		total.Found += res.Found
		total.Rewrapped = append(total.Rewrapped, res.Rewrapped...)
		total.Skipped = append(total.Skipped, res.Skipped...)
		total.Failed = append(total.Failed, res.Failed...)
		total.StillOnRetired = append(total.StillOnRetired, res.StillOnRetired...)
		total.InPlace += res.InPlace
	}
	out["backups_found"] = int64(total.Found)
	out["rewrapped"] = int64(len(total.Rewrapped))
	out["rewrapped_in_place"] = int64(total.InPlace)
	out["skipped"] = int64(len(total.Skipped))
	out["failed"] = int64(len(total.Failed))
	out["failures"] = runner.List(total.Failed)
	out["still_on_retired_keys"] = int64(len(total.StillOnRetired))
	return nil
}

// outStrings returns the strings of a list output.
func outStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
