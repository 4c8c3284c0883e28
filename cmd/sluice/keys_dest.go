package main

import (
	"fmt"

	"github.com/sluice-dev/sluice/steps/keys"
)

// keysDest records or forgets a destination in a store's ledger by hand:
// for backups written by hosts whose copy of the store could not record
// theirs (a read-only, public-only copy), and for destinations that no
// longer exist.
func keysDest(a *app, args []string) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "forget") {
		return usagef("keys dest takes add or forget: sluice keys dest add|forget DIR URL")
	}
	op := args[0]
	fs := newFlags(a, "keys dest "+op, "DIR URL")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
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
