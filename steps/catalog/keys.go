package catalog

import (
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
)

// Keys are the identities a content check opens encrypted backups with:
// every key of a key store (active and retired), or identity files. They
// are loaded once, when first needed.
type Keys struct {
	read func(need []string) (*agefile.Identities, error)
	// loaded
	ids *agefile.Identities
	err error
}

// StoreKeys are the identities of the key store a plan's keys: entry
// describes.
func StoreKeys(cfg runner.KeyConfig) *Keys {
	return &Keys{read: func(need []string) (*agefile.Identities, error) { return agefile.StoreIdentities(cfg, need) }}
}

// DirKeys are the identities of the dir key store at path.
func DirKeys(path string) *Keys {
	return StoreKeys(runner.KeyConfig{Name: path, Store: "dir", Path: path})
}

// IdentityFiles are the identities in age identity files or unencrypted ssh
// private keys (mode 0600).
func IdentityFiles(paths []string) *Keys {
	return &Keys{read: func([]string) (*agefile.Identities, error) { return agefile.FileIdentities(paths) }}
}

// Check loads the identities now, so that a caller can fail before
// anything starts when a key store or identity file is missing. need are
// the key ids the backups were encrypted to: an error names them, so that a
// missing key store says which key to look for.
func (k *Keys) Check(need []string) error {
	_, err := k.load(need)
	return err
}

// load loads the identities once (see Check). Its error is a *keysError:
// a backup it keeps from opening was not checked.
func (k *Keys) load(need []string) (*agefile.Identities, error) {
	if k.ids == nil && k.err == nil {
		k.ids, k.err = k.read(need)
		if k.err != nil {
			k.err = &keysError{k.err}
		}
	}
	return k.ids, k.err
}

// keysError is a failure to load the identities.
type keysError struct{ err error }

func (e *keysError) Error() string { return e.err.Error() }
func (e *keysError) Unwrap() error { return e.err }
