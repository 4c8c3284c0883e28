package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sluice-dev/sluice/steps"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// cmdKeys manages dir key stores: init, list, show. No command prints
// secret material: only key ids, types, states and public recipients.
func cmdKeys(a *app, args []string) error {
	if len(args) == 0 {
		return usagef("keys needs a sub-command: init, list, show or destroy")
	}
	switch args[0] {
	case "init":
		return keysInit(a, args[1:])
	case "list":
		return keysList(a, args[1:])
	case "show":
		return keysShow(a, args[1:])
	case "destroy":
		return keysDestroy(a, args[1:])
	default:
		return usagef("unknown keys sub-command %q: want init, list, show or destroy", args[0])
	}
}

func keysInit(a *app, args []string) error {
	fs := newFlags(a, "keys init", "DIR")
	typ := fs.String("type", keys.DefaultType, "key type: "+keys.TypeHybrid+" (post-quantum hybrid) or "+keys.TypeX25519+" (readable by age < 1.3)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("keys init takes one folder")
	}
	typName := *typ
	if typName == "hybrid" || typName == "pq" {
		typName = keys.TypeHybrid
	}
	_, info, err := keys.InitDir(pos[0], typName)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "created key store %s with active key %s (%s)\nrecipient: %s\n", pos[0], info.ID, info.Type, info.Recipient)
	return nil
}

func keysList(a *app, args []string) error {
	fs := newFlags(a, "keys list", "DIR")
	asJSON := fs.Bool("json", false, "print JSON")
	dest := fs.String("dest", "", "folder URL of backups: count, per key, the backups whose manifest needs it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("keys list takes one folder")
	}
	d, err := keys.OpenDir(pos[0])
	if err != nil {
		return err
	}
	var byKey map[string][]string
	if *dest != "" {
		if byKey, err = steps.BackupsByKey(context.Background(), *dest, keyNeedsTrust(d)); err != nil {
			return err
		}
	}
	if *asJSON {
		if byKey == nil {
			return writeJSON(a, d.Keys())
		}
		type listed struct {
			keys.KeyInfo
			Backups int `json:"backups"`
		}
		var out []listed
		for _, k := range d.Keys() {
			out = append(out, listed{k, len(byKey[k.ID])})
		}
		return writeJSON(a, out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	head := "ID\tTYPE\tSTATE\tCREATED\tAGE"
	if byKey != nil {
		head += "\tBACKUPS"
	}
	fmt.Fprintln(tw, head)
	for _, k := range d.Keys() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", k.ID, k.Type, k.State, k.Created.UTC().Format(time.RFC3339), keyAge(k.Created))
		if byKey != nil {
			fmt.Fprintf(tw, "\t%d", len(byKey[k.ID]))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func keysShow(a *app, args []string) error {
	fs := newFlags(a, "keys show", "DIR [ID]")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("keys show takes a folder and optionally a key id (default: the active key)")
	}
	d, err := keys.OpenDir(pos[0])
	if err != nil {
		return err
	}
	var k keys.KeyInfo
	if len(pos) == 2 {
		k, err = d.Key(pos[1])
	} else {
		k, err = d.Active()
	}
	if err != nil {
		return err
	}
	return writeJSON(a, k)
}

func writeJSON(a *app, v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// keyAge renders how long ago t was, in days.
func keyAge(t time.Time) string {
	return fmt.Sprintf("%dd", int(time.Since(t).Hours()/24))
}

// keyNeedsTrust is how keys list --dest and keys destroy read manifests to
// count which backups need a key: signed ones must verify with the store's
// keys, and unsigned ones (made before signing) are counted too, since
// counting a backup can only keep a key alive, never destroy it.
func keyNeedsTrust(d *keys.Dir) catalog.Trust {
	t := catalog.Trust{AllowUnsigned: true}
	if v, err := d.Verifier(); err == nil {
		t.Verifier = v
	}
	return t
}
