package steps

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// NoKeyError is returned by decrypt when none of the keys it was given
// opens the stream: the backup may be sound, but it was not checked.
type NoKeyError struct{ msg string }

func (e *NoKeyError) Error() string { return e.msg }

// missingStore explains a key store folder that does not exist to a step
// that opens backups: a store made now by sluice keys init would hold new
// keys, never the one an existing backup needs, so it says which key is
// needed and where it was looked for. It returns nil when the folder exists
// or the store is created on first use.
func (p *Decrypt) missingStore(sc *runner.StepContext) error {
	cfg, ok := sc.Keys[string(p.Key)]
	if !ok || (cfg.Store != "" && cfg.Store != "dir") || cfg.Path == "" || cfg.Options["create"] == "true" {
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
	if len(p.ExpectedKeyIDs) > 0 {
		need = "key " + strings.Join(p.ExpectedKeyIDs, " or ")
	}
	return fmt.Errorf("key store %q: key folder %s does not exist: the backup needs %s; point the key store at the folder that holds it", p.Key, abs, need)
}

// CheckKeys loads the identities decrypt would try, without decrypting, so
// that a caller can fail before anything starts when a key store or
// identity file is missing.
func (p *Decrypt) CheckKeys(keys map[string]runner.KeyConfig) error {
	_, _, err := p.identities(&runner.StepContext{ID: "decrypt", Type: "decrypt", Keys: keys})
	return err
}
