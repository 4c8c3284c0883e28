package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// backupsSign adopts unsigned backups: each is verified at content level
// with the store's identities, then its manifest is signed with the
// store's signing key.
func backupsSignCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{Use: "sign DEST [--all|NAME] --key-dir DIR", Short: "adopt unsigned backups: check them with the store's identities and sign their manifests"})
	fs := c.Flags()
	all := fs.Bool("all", false, "sign every unsigned backup")
	keyDir := fs.String("key-dir", "", "the key store whose identities open the backups and whose signing key signs them (required)")
	force := fs.Bool("force", false, "also sign backups written after the store's first signing key (normally a sign of forgery)")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		which := ""
		if len(pos) == 2 {
			which, pos = pos[1], pos[:1]
		}
		if (which == "") == !*all {
			return usagef("backups sign: give --all or one backup's NAME")
		}
		if *all {
			which = "all"
		}
		if *keyDir == "" {
			return usagef("backups sign needs --key-dir: the store that opens and signs the backups")
		}
		b, err := openDest("sign", pos)
		if err != nil {
			return err
		}
		d, err := keys.OpenDir(*keyDir)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		results, err := catalog.AdoptUnsigned(ctx, b, which, catalog.AdoptOptions{Store: d, Force: *force})
		if err != nil {
			return err
		}
		failed := countWhere(results, func(r catalog.AdoptResult) bool { return !r.Signed })
		if a.globals.json {
			if err := writeJSON(a, map[string]any{"backups": results, "signed": len(results) - failed, "failed": failed}); err != nil {
				return err
			}
		} else {
			for _, r := range results {
				if r.Signed {
					fmt.Fprintf(a.stdout, "signed  %s  content verified, signed by %s\n", r.Name, r.SignedBy)
				} else {
					fmt.Fprintf(a.stdout, "FAIL    %s  %s\n", r.Name, r.Error)
				}
			}
			if len(results) == 0 {
				fmt.Fprintln(a.stdout, "no unsigned backup")
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d unsigned backup(s) not signed", failed, len(results))
		}
		return nil
	}
	return c
}
