package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation"
)

// keysDestroy erases a retired key's identity from a dir store, after
// checking under the store's lock that no backup needs it: under --dest,
// which must cover every destination the ledger knows, or (without
// --dest) under every known destination.
func keysDestroyCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "destroy DIR ID", Short: "destroy a retired key's identity once no backup needs it"}
	fs := c.Flags()
	dests := fs.String("dest", "", "comma-separated folder URLs of the backups that may need the key; default: every destination the ledger knows")
	reason := fs.String("reason", "", "why, recorded in the ledger")
	retiredFor := fs.Duration("retired-for", 24*time.Hour, "refuse unless the key was retired at least this long ago: a backup that started before the rotation may still be writing with it, and a backup host's exported copy keeps it active until it is exported again")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 2 {
			return usagef("keys destroy takes a key folder and a key id")
		}
		folders, err := splitFolders(*dests)
		if err != nil {
			return err
		}
		d, err := keys.OpenDir(pos[0])
		if err != nil {
			return err
		}
		ctx := context.Background()
		unlock, err := d.Lock(ctx, 10*time.Second)
		if err != nil {
			return err
		}
		defer unlock()
		id := pos[1]
		if k, err := d.Key(id); err == nil && !k.Retired.IsZero() {
			if age := time.Since(k.Retired); age < *retiredFor {
				return fmt.Errorf("refusing to destroy key %s: it was retired %s ago, less than --retired-for %s: a backup that started before the rotation may still be encrypting to it, and backup hosts keep it active until their copy of the store is exported again; wait, or pass a shorter --retired-for once they are done", id, age.Round(time.Second), *retiredFor)
			}
		}
		known := d.Destinations()
		if len(folders) == 0 {
			if len(known) == 0 {
				return usagef("keys destroy: the ledger of %s records no backup destination: give --dest, the folders of the backups that may need the key, so that no backup loses its key", d.Path())
			}
			for _, k := range known {
				folders = append(folders, k.URL)
			}
		}
		if missed := keys.Uncovered(known, folders); len(missed) > 0 {
			var urls []string
			for _, k := range missed {
				urls = append(urls, k.URL)
			}
			return fmt.Errorf("refusing to destroy key %s: the ledger records backups written to %s, which --dest does not cover: add them to --dest or leave --dest out to check every known destination (sluice keys dest forget %s URL for one that no longer exists)", id, strings.Join(urls, ", "), d.Path())
		}
		check := func() error {
			for _, f := range folders {
				pending, err := rotation.PendingMoves(ctx, f)
				if err != nil {
					return err
				}
				if len(pending) > 0 {
					return fmt.Errorf("refusing to destroy key %s: %s has an unfinished key rotation (a rewrap journal), which needs the old keys to finish: run rotate-key again first", id, strings.Join(pending, ", "))
				}
			}
			byKey, err := backupsByKey(ctx, d, folders)
			if err != nil {
				return err
			}
			if needing := byKey[id]; len(needing) > 0 {
				return fmt.Errorf("refusing to destroy key %s: %d backup(s) still need it: %s: rewrap them first (rotate-key with rewrap)", id, len(needing), strings.Join(needing, ", "))
			}
			return nil
		}
		k, err := d.Destroy(id, keys.DestroyOptions{Reason: *reason, Check: check})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "checked %s: no backup needs key %s\n", strings.Join(folders, ", "), k.ID)
		fmt.Fprintf(a.stdout, "destroyed key %s (%s): its identity file was overwritten and removed; copies outside the key folder (backups, snapshots) are not touched\n", k.ID, k.Type)
		return nil
	}
	return c
}
