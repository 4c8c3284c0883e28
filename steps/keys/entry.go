package keys

import (
	"fmt"
	"sort"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/signing"
)

// Only returns the name of a plan's keys: entry when it has exactly one,
// else "".
func Only(entries map[string]runner.KeyConfig) string {
	if len(entries) != 1 {
		return ""
	}
	names := make([]string, 0, 1)
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names[0]
}

// EntryVerifier returns the verification keys of the dir store of a
// plan's keys: entry name.
func EntryVerifier(entries map[string]runner.KeyConfig, name string) (*signing.Verifier, error) {
	return entryRoleKey(entries, name, "verification", (*Dir).Verifier)
}

// EntrySigner returns the active signing key of the dir store of a plan's
// keys: entry name.
func EntrySigner(entries map[string]runner.KeyConfig, name string) (*signing.Signer, error) {
	return entryRoleKey(entries, name, "signing", (*Dir).Signer)
}

// entryRoleKey returns the role key (signing or verification) that get
// reads from the dir store of entry name.
func entryRoleKey[K any](entries map[string]runner.KeyConfig, name, role string, get func(*Dir) (K, error)) (K, error) {
	var none K
	d, err := openEntryDir(entries, name, role)
	if err != nil {
		return none, err
	}
	k, err := get(d)
	if err != nil {
		return none, fmt.Errorf("key store %q: %w", name, err)
	}
	return k, nil
}

// openEntryDir opens the store of entry name, which must be a dir store:
// only they hold role keys (signing or verification).
func openEntryDir(entries map[string]runner.KeyConfig, name, role string) (*Dir, error) {
	store, err := OpenEntry(entries, name)
	if err != nil {
		return nil, err
	}
	d, ok := store.(*Dir)
	if !ok {
		return nil, fmt.Errorf("key store %q is not a dir store: only dir stores hold %s keys", name, role)
	}
	return d, nil
}
