package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/signing"
)

// keysAllowedSigners prints (or writes) the store's verification keys as an
// OpenSSH allowed_signers file, for ssh-keygen -Y verify.
func keysAllowedSignersCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "allowed-signers DIR", Short: "print the store's verification keys as an allowed_signers file for ssh-keygen -Y verify"}
	fs := c.Flags()
	out := fs.String("out", "", "write to this `file` instead of standard output")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		d, err := openStore("allowed-signers", pos)
		if err != nil {
			return err
		}
		v, err := d.Verifier()
		if err != nil {
			return err
		}
		data := signing.AllowedSigners(v.Keys())
		if *out == "" {
			_, err := a.stdout.Write(data)
			return err
		}
		return os.WriteFile(*out, data, 0o644)
	}
	return c
}

// keysExport copies the parts of a store one role needs into a new folder.
func keysExportCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "export DIR OUT --role backup|verify|restore", Short: "copy the store with only what one host needs"}
	fs := c.Flags()
	role := fs.String("role", "", "what the copy is for: backup (recipient + private signing key), verify (verification keys) or restore (identities + verification keys)")
	completeValues(c, fs.Lookup("role"), keys.Roles...)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 2 || *role == "" {
			return usagef("keys export takes the store, a new folder and --role (%s)", strings.Join(keys.Roles, ", "))
		}
		d, err := keys.OpenDir(pos[0])
		if err != nil {
			return err
		}
		names, err := d.Export(pos[1], *role)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "exported a %s copy of %s to %s: %s\n", *role, pos[0], pos[1], strings.Join(names, ", "))
		return nil
	}
	return c
}
