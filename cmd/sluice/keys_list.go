package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation"
)

// findingError is a check that ran and found a problem (keys list: a
// destroyed key that backups still need). It exits with the code of a
// failed gate.
type findingError struct{ msg string }

func (e *findingError) Error() string { return e.msg }

// keysList prints a store's keys and the destinations its ledger knows.
// With --dest or --backups it counts, per key, the backups that need it;
// a destroyed key that backups still need fails the command (after the
// table) with exit code 4, naming them.
func keysListCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{Use: "list DIR", Short: "list the store's keys and known destinations; with --dest or --backups, the backups that need each key"})
	fs := c.Flags()
	dest := fs.String("dest", "", "comma-separated folder URLs of backups: count, per key, the backups whose manifest needs it")
	known := fs.Bool("backups", false, "count, per key, the backups in every destination the ledger knows (and under --dest)")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		d, err := openStore("list", pos)
		if err != nil {
			return err
		}
		folders, err := splitFolders(*dest)
		if err != nil {
			return err
		}
		if *known {
			if len(d.Destinations()) == 0 && len(folders) == 0 {
				return usagef("keys list --backups: the ledger of %s knows no destination yet: give --dest", d.Path())
			}
			for _, k := range d.Destinations() {
				folders = append(folders, k.URL)
			}
		} else if len(folders) > 0 {
			for _, k := range keys.Uncovered(d.Destinations(), folders) {
				fmt.Fprintf(a.stderr, "sluice: warning: the ledger records backups written to %s, which --dest does not cover: they are not counted (--backups counts every known destination)\n", k.URL)
			}
		}
		var byKey map[string][]string
		if len(folders) > 0 {
			if byKey, err = backupsByKey(context.Background(), d, folders); err != nil {
				return err
			}
		}
		if a.globals.json {
			err = printKeysJSON(a, d, byKey)
		} else {
			err = printKeysTable(a, d, byKey)
		}
		if err != nil {
			return err
		}
		return destroyedButNeeded(d, byKey)
	}
	return c
}

// splitFolders parses a comma-separated list of folder URLs into their
// canonical forms (blob.FolderURL).
func splitFolders(list string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		u, err := blob.FolderURL(f)
		if err != nil {
			return nil, usagef("--dest: %v", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// backupsByKey counts, over every folder, the URLs of the backups that
// need each key id.
func backupsByKey(ctx context.Context, d *keys.Dir, folders []string) (map[string][]string, error) {
	all := map[string][]string{}
	for _, f := range folders {
		byKey, err := rotation.BackupsByKey(ctx, f, keyNeedsTrust(d))
		if err != nil {
			return nil, err
		}
		for id, urls := range byKey {
			all[id] = append(all[id], urls...)
		}
	}
	return all, nil
}

// destroyedButNeeded fails when a destroyed key still has backups: they
// cannot be opened with this store any more.
func destroyedButNeeded(d *keys.Dir, byKey map[string][]string) error {
	var msgs []string
	for _, k := range d.Keys() {
		if k.State == keys.StateDestroyed && len(byKey[k.ID]) > 0 {
			msgs = append(msgs, fmt.Sprintf("key %s is destroyed but %d backup(s) still need it: %s", k.ID, len(byKey[k.ID]), strings.Join(byKey[k.ID], ", ")))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return &findingError{strings.Join(msgs, "; ") + ": this store cannot open them; restore the key from a copy made before its destruction, if one exists, and rewrap them"}
}

func printKeysJSON(a *app, d *keys.Dir, byKey map[string][]string) error {
	type listed struct {
		keys.KeyInfo
		Backups *int `json:"backups,omitempty"`
	}
	out := struct {
		Keys         []listed              `json:"keys"`
		SigningKeys  []keys.SigningKeyInfo `json:"signing_keys"`
		Destinations []keys.Destination    `json:"destinations"`
	}{Keys: []listed{}, SigningKeys: nonNilSlice(d.SigningKeys()), Destinations: nonNilSlice(d.Destinations())}
	for _, k := range d.Keys() {
		l := listed{KeyInfo: k}
		if byKey != nil {
			n := len(byKey[k.ID])
			l.Backups = &n
		}
		out.Keys = append(out.Keys, l)
	}
	return writeJSON(a, out)
}

func printKeysTable(a *app, d *keys.Dir, byKey map[string][]string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	head := "ID\tTYPE\tUSE\tSTATE\tCREATED\tAGE"
	if byKey != nil {
		head += "\tBACKUPS"
	}
	fmt.Fprintln(tw, head)
	for _, k := range d.Keys() {
		fmt.Fprintf(tw, "%s\t%s\tencrypt\t%s\t%s\t%s", k.ID, k.Type, k.State, k.Created.UTC().Format(time.RFC3339), keyAge(k.Created))
		if byKey != nil {
			fmt.Fprintf(tw, "\t%d", len(byKey[k.ID]))
		}
		fmt.Fprintln(tw)
	}
	for _, k := range d.SigningKeys() {
		fmt.Fprintf(tw, "%s\t%s\tsign\t%s\t%s\t%s", k.ID, k.Type, k.State, k.Created.UTC().Format(time.RFC3339), keyAge(k.Created))
		if byKey != nil {
			fmt.Fprint(tw, "\t-")
		}
		fmt.Fprintln(tw)
	}
	if len(d.SigningKeys()) == 0 {
		fmt.Fprintf(tw, "(no signing key: backups cannot be signed or verified; run sluice keys init %s)\n", d.Path())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	dests := d.Destinations()
	if len(dests) == 0 {
		fmt.Fprintf(a.stdout, "\nno backup destination recorded yet: uploads record theirs; sluice keys dest add %s URL records one by hand\n", d.Path())
		return nil
	}
	fmt.Fprintln(a.stdout)
	tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tSINCE\tRECORDED BY")
	for _, k := range dests {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.URL, k.Since.UTC().Format(time.DateOnly), k.By)
	}
	return tw.Flush()
}
