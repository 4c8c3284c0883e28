package catalog

import (
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// The Trust of every reader of backups comes from here: a step names a
// plan's keys: entry (PlanTrust), a command a folder or file (PathTrust).

// PlanTrust returns what a step that reads backups checks manifest
// signatures against: the verification keys of the keys: entry name, or,
// when name is empty, of the plan's only keys: entry. With allowUnsigned,
// unsigned backups are accepted, each warned about through warn; so are
// signed ones, unchecked, when there is no key store or it holds no
// verification keys.
func PlanTrust(entries map[string]runner.KeyConfig, name runner.KeyName, allowUnsigned bool, warn func(msg string, args ...any)) (Trust, error) {
	t := newTrust(allowUnsigned, "allow_unsigned is set", warn)
	if name == "" {
		name = runner.KeyName(keys.Only(entries))
	}
	if name == "" {
		if allowUnsigned {
			return t, nil
		}
		return t, errors.New("no key store to check backup signatures with: set verify_with to a keys: entry (its public verification keys suffice), or allow_unsigned: true to accept backups nothing vouches for")
	}
	v, err := keys.EntryVerifier(entries, string(name))
	if err != nil {
		if allowUnsigned {
			t.Warn("no verification keys; signatures are not checked", "error", err)
			return t, nil
		}
		return t, err
	}
	t.Verifier = v
	return t, nil
}

// ErrNoVerifyKeys is PathTrust's error when no keys were given and unsigned
// backups are not allowed.
var ErrNoVerifyKeys = errors.New("no verification keys to check the backups' signatures with")

// PathTrust returns what a command that reads backups checks manifest
// signatures against: the verification keys at path, a key store folder
// (public parts suffice) or an allowed_signers file; "" when none were
// given, which only allowUnsigned accepts (ErrNoVerifyKeys). With
// allowUnsigned, unsigned backups are accepted, each warned about through
// warn.
func PathTrust(path string, allowUnsigned bool, warn func(msg string, args ...any)) (Trust, error) {
	t := newTrust(allowUnsigned, "--allow-unsigned", warn)
	if path == "" {
		if allowUnsigned {
			return t, nil
		}
		return t, ErrNoVerifyKeys
	}
	v, err := keys.OpenVerifier(path)
	if err != nil {
		return t, err
	}
	t.Verifier = v
	return t, nil
}

// newTrust returns a Trust without keys and says once that unsigned
// backups are accepted; optIn names the setting that allowed them.
func newTrust(allowUnsigned bool, optIn string, warn func(msg string, args ...any)) Trust {
	if warn == nil {
		warn = func(string, ...any) {}
	}
	t := Trust{AllowUnsigned: allowUnsigned, Warn: warn}
	if allowUnsigned {
		warn(fmt.Sprintf("%s: backups without a signature are accepted; nothing proves where they came from", optIn))
	}
	return t
}
