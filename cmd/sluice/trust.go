package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice/steps/catalog"
)

// trustFlags are the flags of the commands that read backups: where the
// verification keys come from, and the opt-in for unsigned backups.
type trustFlags struct {
	keyDir        *string // shared with the command's --key-dir
	verifyKeys    *string
	allowUnsigned *bool
}

// addTrustFlags adds --verify-keys and --allow-unsigned; keyDir is the
// command's --key-dir, whose store's verification keys are used when
// --verify-keys is not given.
func addTrustFlags(fs *pflag.FlagSet, keyDir *string) *trustFlags {
	return &trustFlags{
		keyDir:        keyDir,
		verifyKeys:    fs.String("verify-keys", "", "verification keys that check each manifest's signature: a key store `DIR` (public parts suffice) or an allowed_signers file; default: --key-dir"),
		allowUnsigned: fs.Bool("allow-unsigned", false, "accept backups whose manifest is not signed (each is warned about): nothing then proves where they came from"),
	}
}

// trust returns what the command checks manifests against.
func (f *trustFlags) trust(a *app) (catalog.Trust, error) {
	path := *f.verifyKeys
	if path == "" && f.keyDir != nil {
		path = *f.keyDir
	}
	t, err := catalog.PathTrust(path, *f.allowUnsigned, func(msg string, args ...any) {
		fmt.Fprintf(a.stderr, "sluice: warning: %s%s\n", msg, kvSuffix(args))
	})
	if errors.Is(err, catalog.ErrNoVerifyKeys) {
		return t, usagef("give the verification keys that check the backups' signatures: --key-dir DIR or --verify-keys DIR|FILE (a key store, public parts suffice, or an allowed_signers file); or --allow-unsigned")
	}
	return t, err
}

// kvSuffix renders hclog-style key/value pairs: " (backup=URL)".
func kvSuffix(args []any) string {
	if len(args) == 0 {
		return ""
	}
	s := " ("
	for i := 0; i+1 < len(args); i += 2 {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%v=%v", args[i], args[i+1])
	}
	return s + ")"
}
