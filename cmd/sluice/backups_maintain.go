package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/catalog"
)

func backupsVerifyCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{Use: "verify DEST [--latest|--all|NAME]", Short: "verify backups end to end: signature, digest, and content opened with the keys"})
	fs := c.Flags()
	latest := fs.Bool("latest", false, "verify the newest backup (the default)")
	all := fs.Bool("all", false, "verify every backup")
	keyDir := fs.String("key-dir", "", "dir key store whose identities (active and retired) open the backups")
	var identities multiFlag
	fs.Var(&identities, "identity", "age identity `file` (repeatable), instead of --key-dir")
	noRecord := fs.Bool("no-record", false, "do not write or remove verify records (NAME.verified.json)")
	tf := addTrustFlags(fs, keyDir)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		which := "latest"
		if len(pos) == 2 {
			which, pos = pos[1], pos[:1]
		}
		switch {
		case *latest && *all, (*latest || *all) && which != "latest":
			return usagef("backups verify: give one of --latest, --all or a backup's NAME")
		case *all:
			which = "all"
		}
		if *keyDir != "" && len(identities) > 0 {
			return usagef("backups verify: give --key-dir or --identity, not both")
		}
		b, trust, err := tf.openTrusted(a, "verify", pos)
		if err != nil {
			return err
		}
		opts := catalog.VerifyOptions{Record: !*noRecord, Trust: trust}
		switch {
		case *keyDir != "":
			opts.Keys = catalog.DirKeys(*keyDir)
		case len(identities) > 0:
			opts.Keys = catalog.IdentityFiles(identities)
		}
		ctx, stop := signalContext()
		defer stop()
		results, err := catalog.VerifyDest(ctx, b, which, opts)
		if err != nil {
			return err
		}
		if a.globals.json {
			failed := countWhere(results, func(r catalog.VerifyResult) bool { return !r.OK })
			if err := writeJSON(a, map[string]any{"backups": results, "verified": len(results) - failed, "failed": failed}); err != nil {
				return err
			}
		} else {
			for _, r := range results {
				if r.OK {
					fmt.Fprintf(a.stdout, "ok    %s  %s level, %s, %s", r.Name, r.Level, r.Digest, signedBy(r))
					if r.Note != "" {
						fmt.Fprintf(a.stdout, " (%s)", r.Note)
					}
					fmt.Fprintln(a.stdout)
				} else {
					fmt.Fprintf(a.stdout, "FAIL  %s  %s\n", r.Name, r.Error)
				}
			}
		}
		return catalog.VerifyError(results)
	}
	return c
}

// signedBy says which key signed a verified backup's manifest.
func signedBy(r catalog.VerifyResult) string {
	if r.SignedBy != "" {
		return "signed by " + r.SignedBy
	}
	return "UNSIGNED (" + r.Signature + ")"
}

func backupsPruneCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{Use: "prune DEST", Short: "apply retention (--keep-*), or remove sluice's leftovers (--incomplete)"})
	fs := c.Flags()
	var p catalog.Policy
	fs.IntVar(&p.Last, "keep-last", 0, "keep the `n` newest backups (-1: all)")
	fs.IntVar(&p.Daily, "keep-daily", 0, "keep the newest backup of each of the `n` newest days (UTC) with one")
	fs.IntVar(&p.Weekly, "keep-weekly", 0, "the same per ISO week")
	fs.IntVar(&p.Monthly, "keep-monthly", 0, "the same per calendar month")
	fs.IntVar(&p.Yearly, "keep-yearly", 0, "the same per calendar year")
	within := fs.String("keep-within", "", "keep every backup created within this `span` before the newest, e.g. 14d, 2w, 6m, 1y, 36h")
	confirm := fs.Bool("confirm", false, "delete; without it, only show what would be deleted")
	incomplete := fs.Bool("incomplete", false, "instead of retention, remove sluice's leftovers: its objects without a manifest (with their sidecars) and unfinished uploads; other files are never touched")
	olderThan := fs.Duration("incomplete-older-than", 24*time.Hour, "with --incomplete: only leftovers older than this `age` (0: any age)")
	keyDir := fs.String("key-dir", "", "key store whose verification keys check each manifest's signature (public parts suffice)")
	tf := addTrustFlags(fs, keyDir)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		var err error
		if *incomplete {
			keep := false
			fs.Visit(func(f *pflag.Flag) { keep = keep || strings.HasPrefix(f.Name, "keep-") })
			if keep {
				return usagef("backups prune: --incomplete removes leftovers only: drop the --keep-* flags, or run retention separately")
			}
			if *olderThan < 0 {
				return usagef("--incomplete-older-than is %s: use 0 for any age, or a duration such as 24h", *olderThan)
			}
			return pruneLeftovers(a, pos, *olderThan, *confirm, a.globals.json)
		}
		if p.Within, err = runner.ParseRetention(*within); err != nil {
			return usagef("--keep-within: %v", err)
		}
		if err := p.Validate(); err != nil {
			return usagef("backups prune: %s", strings.NewReplacer("keep_", "--keep-", "_", "-").Replace(err.Error()))
		}
		b, trust, err := tf.openTrusted(a, "prune", pos)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		res, err := catalog.PruneDest(ctx, b, p, *confirm, trust)
		if res == nil {
			return err
		}
		if a.globals.json {
			if jerr := writeJSON(a, res.Outputs()); jerr != nil {
				return jerr
			}
			return err
		}
		deleted := map[string]bool{}
		for _, n := range res.Deleted {
			deleted[n] = true
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		for _, d := range res.Decisions {
			verb := "keep"
			switch {
			case d.Keep:
			case deleted[d.Backup.Name]:
				verb = "delete"
			case *confirm:
				verb = "left" // deletion stopped before it
			default:
				verb = "would delete"
			}
			why := strings.Join(d.Reasons, ", ")
			if why == "" {
				why = "no rule keeps it"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\n", verb, d.Backup.Created().UTC().Format("2006-01-02 15:04:05Z"), d.Backup.Name, why)
		}
		tw.Flush()
		for _, p := range res.Problems {
			fmt.Fprintf(a.stdout, "left alone  %s  (%s)\n", p.Manifest, p.Detail)
		}
		switch {
		case !*confirm && res.ToDelete() > 0:
			fmt.Fprintf(a.stdout, "dry run: %d kept, %d would be deleted; rerun with --confirm to delete\n", res.Kept(), res.ToDelete())
		case *confirm:
			fmt.Fprintf(a.stdout, "%d kept, %d deleted\n", res.Kept(), len(res.Deleted))
		default:
			fmt.Fprintf(a.stdout, "%d kept, nothing to delete\n", res.Kept())
		}
		return err
	}
	return c
}

// pruneLeftovers is backups prune --incomplete.
func pruneLeftovers(a *app, pos []string, olderThan time.Duration, confirm, asJSON bool) error {
	b, err := openDest("prune", pos)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	res, err := catalog.LeftoversDest(ctx, b, olderThan, confirm)
	if res == nil {
		return err
	}
	if asJSON {
		if jerr := writeJSON(a, res.Outputs()); jerr != nil {
			return jerr
		}
		return err
	}
	verb := func(remove, done bool, would, did string) string {
		switch {
		case !remove:
			return "keep"
		case done:
			return did
		case confirm:
			return "left" // removal stopped before it
		default:
			return "would " + would
		}
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, o := range res.Objects {
		note := o.Note
		if note == "" {
			note = "no manifest"
			if o.ObjectMissing {
				note = "object gone"
			}
			if len(o.Related) > 0 {
				note += "; with " + strings.Join(o.Related, ", ")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\n", verb(o.Remove, o.Removed, "remove", "removed"), o.ModTime.UTC().Format("2006-01-02 15:04:05Z"), o.Name, note)
	}
	for _, u := range res.Uploads {
		note := "unfinished upload " + u.ID
		if !u.Abort {
			note += ", active within " + olderThan.String() + ": may be a backup being written"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\n", verb(u.Abort, u.Aborted, "abort", "aborted"), u.Started.UTC().Format("2006-01-02 15:04:05Z"), u.Name, note)
	}
	tw.Flush()
	objs, ups := res.ToRemove()
	switch {
	case !confirm && objs+ups > 0:
		fmt.Fprintf(a.stdout, "dry run: %d incomplete objects and %d unfinished uploads would be removed; rerun with --confirm to remove\n", objs, ups)
	case confirm && objs+ups > 0:
		removed := countWhere(res.Objects, func(o catalog.Leftover) bool { return o.Removed })
		aborted := countWhere(res.Uploads, func(u catalog.UploadLeftover) bool { return u.Aborted })
		fmt.Fprintf(a.stdout, "removed %d incomplete objects and aborted %d unfinished uploads\n", removed, aborted)
	default:
		fmt.Fprintf(a.stdout, "no incomplete leftovers older than %s\n", olderThan)
	}
	return err
}
