package agefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Identities are the private keys Open tries, with their key ids and
// where they were found (for errors, which name only key ids).
type Identities struct {
	ids    []age.Identity
	infos  []keys.KeyInfo
	source string
}

// StoreIdentities loads every identity of the key store cfg (a plan's keys:
// entry), active and retired. expectKeyIDs are the key ids the files to
// open were encrypted to (may be empty): when the store's folder does not
// exist, the error names them and where they were looked for, because a
// store made now by sluice keys init would hold new keys, never the one an
// existing backup needs.
func StoreIdentities(cfg runner.KeyConfig, expectKeyIDs []string) (*Identities, error) {
	if err := missingStore(cfg, expectKeyIDs); err != nil {
		return nil, err
	}
	store, err := keys.Open(cfg)
	if err != nil {
		return nil, err
	}
	ids, infos, err := store.Identities()
	if err != nil {
		return nil, fmt.Errorf("key store %q: %w", cfg.Name, err)
	}
	return &Identities{ids: ids, infos: infos, source: fmt.Sprintf("key store %q", cfg.Name)}, nil
}

// FileIdentities loads identity files: age identity files or unencrypted
// ssh private keys, each with mode 0600.
func FileIdentities(paths []string) (*Identities, error) {
	out := &Identities{source: "identity files"}
	for _, path := range paths {
		ids, infos, err := keys.ReadIdentityFile(path)
		if err != nil {
			return nil, err
		}
		out.ids, out.infos = append(out.ids, ids...), append(out.infos, infos...)
	}
	return out, nil
}

// missingStore explains a dir store folder that does not exist. It returns
// nil when the folder exists or the store is created on first use.
func missingStore(cfg runner.KeyConfig, expect []string) error {
	if (cfg.Store != "" && cfg.Store != "dir") || cfg.Path == "" || cfg.Options["create"] == "true" {
		return nil
	}
	if _, err := os.Stat(cfg.Path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		abs = cfg.Path
	}
	need := "the key its manifest names (key_ids)"
	if len(expect) > 0 {
		need = "key " + strings.Join(expect, " or ")
	}
	return fmt.Errorf("key store %q: key folder %s does not exist: the backup needs %s; point the key store at the folder that holds it", cfg.Name, abs, need)
}
