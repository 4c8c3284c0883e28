package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation"
)

// keysDestroy erases a retired key's identity from a dir store, after
// checking under the store's lock that no backup under --dest needs it.
func keysDestroy(a *app, args []string) error {
	fs := newFlags(a, "keys destroy", "DIR ID")
	dests := fs.String("dest", "", "comma-separated folder URLs of the backups that may need the key (required)")
	reason := fs.String("reason", "", "why, recorded in the ledger")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("keys destroy takes a key folder and a key id")
	}
	if *dests == "" {
		return usagef("keys destroy needs --dest: the backup folders to check, so that no backup loses its key")
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
	check := func() error {
		var needing []string
		for _, dest := range strings.Split(*dests, ",") {
			byKey, err := rotation.BackupsByKey(ctx, strings.TrimSpace(dest), keyNeedsTrust(d))
			if err != nil {
				return err
			}
			needing = append(needing, byKey[id]...)
		}
		if len(needing) > 0 {
			return fmt.Errorf("refusing to destroy key %s: %d backup(s) still need it: %s: rewrap them first (rotate-key with rewrap)", id, len(needing), strings.Join(needing, ", "))
		}
		return nil
	}
	k, err := d.Destroy(id, keys.DestroyOptions{Reason: *reason, Check: check})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "destroyed key %s (%s): its identity file was overwritten and removed; copies outside the key folder (backups, snapshots) are not touched\n", k.ID, k.Type)
	return nil
}
