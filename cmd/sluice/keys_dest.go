package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/keys"
)

// keysDestCommand records or forgets a destination in a store's ledger by
// hand: for backups written by hosts whose copy of the store could not
// record theirs (a read-only, public-only copy), and for destinations that
// no longer exist.
func keysDestCommand(a *app) *cobra.Command {
	return group("dest", "record (add) or forget a destination of the store's backups in its ledger",
		keysDestOpCommand(a, "add", "record a destination: rotate-key moves its backups and keys destroy checks it"),
		keysDestOpCommand(a, "forget", "forget a destination that no longer holds the store's backups"))
}

func keysDestOpCommand(a *app, op, short string) *cobra.Command {
	c := &cobra.Command{Use: op + " DIR URL", Short: short}
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 2 {
			return usagef("keys dest %s takes a key folder and a folder URL", op)
		}
		d, err := keys.OpenDir(pos[0])
		if err != nil {
			return err
		}
		if op == "forget" {
			found, err := d.ForgetDestination(pos[1])
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("the ledger of %s does not record %s (sluice keys list %s shows what it records)", d.Path(), pos[1], d.Path())
			}
			fmt.Fprintf(a.stdout, "forgot destination %s: rotate-key and keys destroy no longer check it\n", pos[1])
			return nil
		}
		if k, ok, err := d.Known(pos[1]); err != nil {
			return err
		} else if ok {
			fmt.Fprintf(a.stdout, "destination %s is known already (as %s, since %s)\n", pos[1], k.URL, k.Since.Format("2006-01-02"))
			return nil
		}
		if _, err := d.AddDestination(pos[1], "keys dest add"); err != nil {
			return err
		}
		k, _, _ := d.Known(pos[1])
		fmt.Fprintf(a.stdout, "recorded destination %s: rotate-key (without rewrap.dest) moves its backups and keys destroy checks it\n", k.URL)
		return nil
	}
	return c
}
