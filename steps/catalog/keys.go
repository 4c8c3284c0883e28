package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Keys are the identities a content check opens encrypted backups with:
// every key of a key store (active and retired), or identity files. They
// are loaded once, when first needed.
type Keys struct {
	open   func() (keys.Store, error) // nil with files
	source string                     // how errors name the store
	cfg    runner.KeyConfig           // the store's keys: entry, to explain a missing folder
	files  []string
	// loaded
	ring *keyRing
	err  error
}

// StoreKeys are the identities of the key store a plan's keys: entry
// describes.
func StoreKeys(cfg runner.KeyConfig) *Keys {
	return &Keys{open: func() (keys.Store, error) { return keys.Open(cfg) }, cfg: cfg,
		source: fmt.Sprintf("key store %q", cfg.Name)}
}

// DirKeys are the identities of the dir key store at path.
func DirKeys(path string) *Keys {
	return &Keys{open: func() (keys.Store, error) { return keys.OpenDir(path) }, cfg: runner.KeyConfig{Path: path},
		source: "key store " + path}
}

// OpenedKeys are the identities of a key store already open.
func OpenedKeys(d *keys.Dir) *Keys {
	return &Keys{open: func() (keys.Store, error) { return d, nil }, source: "key store " + d.Path()}
}

// IdentityFiles are the identities in age identity files or unencrypted ssh
// private keys (mode 0600).
func IdentityFiles(paths []string) *Keys { return &Keys{files: paths} }

// keyRing is what Keys loaded.
type keyRing struct {
	ids    []age.Identity
	infos  []keys.KeyInfo // at the same indexes
	source string         // for errors: `key store "backup"`, "identity files"
}

// Check loads the identities now, so that a caller can fail before
// anything starts when a key store or identity file is missing. need are
// the key ids the backups were encrypted to: an error names them, so that a
// missing key store says which key to look for.
func (k *Keys) Check(need []string) error {
	_, err := k.load(need)
	return err
}

// load loads the identities once (see Check).
func (k *Keys) load(need []string) (*keyRing, error) {
	if k.ring != nil || k.err != nil {
		return k.ring, k.err
	}
	k.ring, k.err = k.read(need)
	return k.ring, k.err
}

func (k *Keys) read(need []string) (*keyRing, error) {
	if k.open == nil {
		r := &keyRing{source: "identity files"}
		for _, path := range k.files {
			ids, infos, err := keys.ReadIdentityFile(path)
			if err != nil {
				return nil, err
			}
			r.ids, r.infos = append(r.ids, ids...), append(r.infos, infos...)
		}
		return r, nil
	}
	if err := k.missingFolder(need); err != nil {
		return nil, err
	}
	store, err := k.open()
	if err != nil {
		return nil, err
	}
	r := &keyRing{source: k.source}
	if r.ids, r.infos, err = store.Identities(); err != nil {
		return nil, fmt.Errorf("%s: %w", r.source, err)
	}
	return r, nil
}

// missingFolder explains a key store folder that does not exist: a store
// made now by sluice keys init would hold new keys, never the one an
// existing backup needs, so it says which key is needed and where it was
// looked for. It returns nil when the folder exists or the store is
// created on first use.
func (k *Keys) missingFolder(need []string) error {
	c := k.cfg
	if (c.Store != "" && c.Store != "dir") || c.Path == "" || c.Options["create"] == "true" {
		return nil
	}
	if _, err := os.Stat(c.Path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	abs, err := filepath.Abs(c.Path)
	if err != nil {
		abs = c.Path
	}
	what := "the key its manifest names (key_ids)"
	if len(need) > 0 {
		what = "key " + strings.Join(need, " or ")
	}
	prefix := ""
	if c.Name != "" {
		prefix = k.source + ": "
	}
	return fmt.Errorf("%skey folder %s does not exist: the backup needs %s; point the key store at the folder that holds it", prefix, abs, what)
}

// NoKeyError says that none of the keys given opens a backup: it may be
// sound, but it was not checked.
type NoKeyError struct{ msg string }

func (e *NoKeyError) Error() string { return e.msg }

// noMatch explains why no identity of r opened a backup encrypted to need
// (its manifest's key ids). When a key tried is one it was encrypted to,
// the key is right and the header is damaged.
func (r *keyRing) noMatch(need []string) error {
	var tried []string
	for _, k := range r.infos {
		if slices.Contains(need, k.ID) {
			return fmt.Errorf("backup is truncated or corrupted: its header does not open with key %s, which it was encrypted to: the file was damaged or modified", k.ID)
		}
		if k.State != "" {
			tried = append(tried, k.ID+" ("+k.State+")")
		} else {
			tried = append(tried, k.ID)
		}
	}
	msg := fmt.Sprintf("no key opens this backup; tried %s of %s", strings.Join(tried, ", "), r.source)
	if len(need) > 0 {
		msg += fmt.Sprintf("; it needs %s: use the key store that holds it", strings.Join(need, " or "))
	}
	return &NoKeyError{msg: msg}
}
