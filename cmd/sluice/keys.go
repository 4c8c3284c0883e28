package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// keysCommand manages dir key stores: init, list, show, destroy, the
// destinations the ledger knows (dest), and the exports for other hosts
// (allowed-signers, export). No command prints secret material: only key
// ids, types, states and public keys.
func keysCommand(a *app) *cobra.Command {
	return group("keys", "manage key stores: init, list, show, destroy, destinations, and exports for other hosts",
		keysInitCommand(a), keysListCommand(a), keysShowCommand(a), keysDestroyCommand(a),
		keysDestCommand(a), keysAllowedSignersCommand(a), keysExportCommand(a))
}

// openStore opens the key store folder, the one argument of `keys cmd`.
func openStore(cmd string, pos []string) (*keys.Dir, error) {
	if len(pos) != 1 {
		return nil, usagef("keys %s takes one folder", cmd)
	}
	return keys.OpenDir(pos[0])
}

func keysInitCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "init DIR", Short: "create a dir key store (or add a signing key to an old one)"}
	fs := c.Flags()
	typ := fs.String("type", keys.DefaultType, "key type: "+keys.TypeHybrid+" (post-quantum hybrid) or "+keys.TypeX25519+" (readable by age < 1.3)")
	completeValues(c, fs.Lookup("type"), keys.TypeHybrid, keys.TypeX25519)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return usagef("keys init takes one folder")
		}
		typName := *typ
		if typName == "hybrid" || typName == "pq" {
			typName = keys.TypeHybrid
		}
		if d, err := keys.OpenDir(pos[0]); err == nil {
			if _, err := d.ActiveSigningKey(); err != nil {
				return addSigningKey(a, d)
			}
		}
		d, info, err := keys.InitDir(pos[0], typName)
		if err != nil {
			return err
		}
		sk, err := d.ActiveSigningKey()
		if err != nil {
			return err
		}
		printInit(a, d, info, sk)
		return nil
	}
	return c
}

// printInit says what keys init made and where, without the recipient (a
// post-quantum one is ~2,000 characters; it is in the .pub file), and
// reminds the operator to keep a copy of the identities.
func printInit(a *app, d *keys.Dir, k keys.KeyInfo, sk keys.SigningKeyInfo) {
	w := a.stdout
	fmt.Fprintf(w, "created key store %s\n", d.Path())
	fmt.Fprintf(w, "encryption key: %s (%s, %s); public recipient in %s\n", k.ID, k.Type, k.State, d.RecipientFile(k.ID))
	fmt.Fprintf(w, "identities:     %s (private, 0600)\n", d.KeyFile(k.ID))
	fmt.Fprintf(w, "signing key:    %s (%s %s) in %s (private, 0600)\n", sk.ID, sk.Type, sk.Fingerprint, d.KeyFile(sk.ID))
	fmt.Fprintf(w, "back up the identities now, offline (without them no backup can be restored): copy the folder %s, or sluice keys export %s OUT --role restore; never commit it (keys/ in .gitignore)\n", d.Path(), d.Path())
}

// addSigningKey gives a store made before signed backups its signing key.
func addSigningKey(a *app, d *keys.Dir) error {
	unlock, err := d.Lock(context.Background(), 10*time.Second)
	if err != nil {
		return err
	}
	defer unlock()
	sk, err := d.AddSigningKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "key store %s had no signing key (made before signed backups): added %s (%s %s)\nits older backups are unsigned: adopt them with sluice backups sign DEST --key-dir %s\n", d.Path(), sk.ID, sk.Type, sk.Fingerprint, d.Path())
	return nil
}

func keysShowCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "show DIR [ID]", Short: "show one key (default the active one): its id, state and public recipient"}
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) < 1 || len(pos) > 2 {
			return usagef("keys show takes a folder and optionally a key id (default: the active key)")
		}
		d, err := keys.OpenDir(pos[0])
		if err != nil {
			return err
		}
		if len(pos) == 2 && strings.HasPrefix(pos[1], "s-") {
			for _, k := range d.SigningKeys() {
				if k.ID == pos[1] {
					return writeJSON(a, k)
				}
			}
			return fmt.Errorf("key folder %s has no signing key %s", d.Path(), pos[1])
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
	return c
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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
