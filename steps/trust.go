package steps

import (
	"fmt"
	"sort"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/signing"
)

// stepTrust returns what a step that reads backups checks their manifest
// signatures against: the verification keys of the keys: entry name, or,
// when name is empty, of the plan's only keys: entry. With allowUnsigned,
// unsigned backups are accepted with a warning (and, without any key store,
// signed ones unchecked).
func stepTrust(sc *runner.StepContext, name runner.KeyName, allowUnsigned bool) (catalog.Trust, error) {
	t := catalog.Trust{AllowUnsigned: allowUnsigned}
	if sc != nil && sc.Logger != nil {
		t.Warn = sc.Logger.Warn
		if allowUnsigned {
			sc.Logger.Warn("allow_unsigned is set: backups without a signature are accepted; nothing proves where they came from")
		}
	}
	if name == "" {
		name = onlyKeyStore(sc)
	}
	if name == "" {
		if allowUnsigned {
			return t, nil
		}
		return t, fmt.Errorf("no key store to check backup signatures with: set verify_with to a keys: entry (its public verification keys suffice), or allow_unsigned: true to accept backups nothing vouches for")
	}
	v, err := storeVerifier(sc, name)
	if err != nil {
		if allowUnsigned {
			if t.Warn != nil {
				t.Warn("no verification keys; signatures are not checked", "error", err)
			}
			return t, nil
		}
		return t, err
	}
	t.Verifier = v
	return t, nil
}

// onlyKeyStore returns the name of the plan's keys: entry when it has
// exactly one, else "".
func onlyKeyStore(sc *runner.StepContext) runner.KeyName {
	if sc == nil || len(sc.Keys) != 1 {
		return ""
	}
	names := make([]string, 0, 1)
	for n := range sc.Keys {
		names = append(names, n)
	}
	sort.Strings(names)
	return runner.KeyName(names[0])
}

// storeVerifier returns the verification keys of a plan's dir key store.
func storeVerifier(sc *runner.StepContext, name runner.KeyName) (*signing.Verifier, error) {
	store, err := keys.OpenEntry(sc.Keys, string(name))
	if err != nil {
		return nil, err
	}
	d, ok := store.(*keys.Dir)
	if !ok {
		return nil, fmt.Errorf("key store %q is not a dir store: only dir stores hold verification keys", name)
	}
	v, err := d.Verifier()
	if err != nil {
		return nil, fmt.Errorf("key store %q: %w", name, err)
	}
	return v, nil
}

// storeSigner returns the signer of a plan's dir key store.
func storeSigner(sc *runner.StepContext, name runner.KeyName) (*signing.Signer, error) {
	store, err := keys.OpenEntry(sc.Keys, string(name))
	if err != nil {
		return nil, err
	}
	d, ok := store.(*keys.Dir)
	if !ok {
		return nil, fmt.Errorf("key store %q is not a dir store: only dir stores hold signing keys", name)
	}
	s, err := d.Signer()
	if err != nil {
		return nil, fmt.Errorf("key store %q: %w", name, err)
	}
	return s, nil
}
