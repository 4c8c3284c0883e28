// Package keys holds sluice's age key stores: where the encrypt step finds
// the recipients to encrypt to and the decrypt step the identities to open a
// backup with.
//
// A key is known by its id, a short hash of its public recipient string
// (KeyID). Nothing printable is ever derived from secret key material:
// errors, logs, ledgers and manifests name keys by id only.
//
// The default store is a directory (see Dir). Every store has at most one
// active key, the one new backups are encrypted to; retired keys stay able to
// decrypt older backups.
package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
)

// Key types a store can create.
const (
	// TypeHybrid is age's post-quantum hybrid key (ML-KEM-768 + X25519),
	// recipients age1pq1...; the default. Only age 1.3 and later know it.
	TypeHybrid = "mlkem768x25519"
	// TypeX25519 is age's classic key, recipients age1...; readable by every
	// age version (Debian's age 1.1 among them).
	TypeX25519 = "x25519"
)

// DefaultType is the key type InitDir uses when none is given.
const DefaultType = TypeHybrid

// Key states in a store's ledger.
const (
	// StatePending is a key that was created but not yet activated: it can
	// decrypt but nothing is encrypted to it yet.
	StatePending = "pending"
	// StateActive is the key new backups are encrypted to. A store has at
	// most one.
	StateActive = "active"
	// StateRetired is a former active key, kept to decrypt older backups.
	StateRetired = "retired"
	// StateDestroyed is a former key whose identity was erased from the
	// store: nothing it encrypted can be opened with this store any more.
	StateDestroyed = "destroyed"
)

// KeyInfo describes one key of a store. It holds no secret.
type KeyInfo struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Recipient string    `json:"recipient"` // public: age1..., age1pq1... or an ssh public key
	State     string    `json:"state"`
	Created   time.Time `json:"created"`
	Activated time.Time `json:"activated,omitzero"`
	Retired   time.Time `json:"retired,omitzero"`
	Destroyed time.Time `json:"destroyed,omitzero"`
}

// Store is a source of keys. Implementations must keep secret material out
// of every error they return.
type Store interface {
	// Keys returns every key of the store, oldest first.
	Keys() []KeyInfo
	// Active returns the key new backups are encrypted to.
	Active() (KeyInfo, error)
	// Recipients returns the recipient of the active key only, with its
	// info at the same index.
	Recipients() ([]age.Recipient, []KeyInfo, error)
	// Identities returns the identities of every key that may open a
	// backup (active, retired and pending), with their infos at the same
	// indexes, active first.
	Identities() ([]age.Identity, []KeyInfo, error)
}

// createMu serialises the creation of stores by Open.
var createMu sync.Mutex

// Open opens the store a plan's keys: entry describes. Store "" and "dir"
// are the directory store at cfg.Path; with the option create: "true" a
// missing folder is initialised with one key of the option type (default
// DefaultType), which suits quickstarts and drills, not production keys.
func Open(cfg runner.KeyConfig) (Store, error) {
	switch cfg.Store {
	case "", "dir":
		if cfg.Path == "" {
			return nil, fmt.Errorf("key store %q: no path: set keys.%s.path to the key folder", cfg.Name, cfg.Name)
		}
		if cfg.Options["create"] == "true" {
			// Steps of one run open the store at once (encrypt, and upload
			// for its signing key): one creates it, the others wait.
			createMu.Lock()
			_, err := os.Stat(cfg.Path)
			if errors.Is(err, fs.ErrNotExist) {
				_, _, err = InitDir(cfg.Path, cfg.Options["type"])
			} else {
				err = nil
			}
			createMu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("key store %q: %w", cfg.Name, err)
			}
		}
		d, err := OpenDir(cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("key store %q: %w", cfg.Name, err)
		}
		return d, nil
	default:
		return nil, fmt.Errorf("key store %q: unknown store type %q: known types are: dir", cfg.Name, cfg.Store)
	}
}

// Entry returns the entry name of a plan's keys: section, with its Name
// set.
func Entry(entries map[string]runner.KeyConfig, name string) (runner.KeyConfig, error) {
	cfg, ok := entries[name]
	if !ok {
		return runner.KeyConfig{}, fmt.Errorf("key %q is not in the plan's keys: section", name)
	}
	if cfg.Name == "" {
		cfg.Name = name
	}
	return cfg, nil
}

// OpenEntry opens the store of the entry name of a plan's keys: section.
func OpenEntry(entries map[string]runner.KeyConfig, name string) (Store, error) {
	cfg, err := Entry(entries, name)
	if err != nil {
		return nil, err
	}
	return Open(cfg)
}

// KeyID returns the id of the key whose public recipient string is
// recipient: "k-" and the first 16 hex digits of its SHA-256. Pass the
// canonical form (see ParseRecipient) so that one key has one id.
func KeyID(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	return "k-" + hex.EncodeToString(sum[:8])
}

// ParseRecipient parses a public recipient: X25519 (age1...), post-quantum
// hybrid (age1pq1...) or ssh (ssh-ed25519 ... / ssh-rsa ...). It returns the
// recipient, its canonical string (for ssh keys: type and key, without the
// comment) and its key id.
func ParseRecipient(s string) (r age.Recipient, canonical, id string, err error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		h, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, "", "", fmt.Errorf("parsing post-quantum recipient: %w", err)
		}
		canonical = h.String()
		r = h
	case strings.HasPrefix(s, "age1"):
		x, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, "", "", fmt.Errorf("parsing X25519 recipient: %w", err)
		}
		canonical = x.String()
		r = x
	case strings.HasPrefix(s, "ssh-"):
		r, canonical, err = parseSSHRecipient(s)
		if err != nil {
			return nil, "", "", err
		}
	case looksPrivate(s):
		// Quote nothing of it: errors reach logs and plan validation output.
		return nil, "", "", errors.New("a recipient is a private key (an identity), not a public one: remove it from the plan now and treat it as leaked; give its public recipient (age-keygen -y)")
	default:
		return nil, "", "", fmt.Errorf("recipient %q is not an age (age1...), post-quantum (age1pq1...) or ssh (ssh-ed25519/ssh-rsa) public key", short(s))
	}
	return r, canonical, KeyID(canonical), nil
}

// IsPostQuantum reports whether a canonical recipient string is a
// post-quantum one. age refuses to mix such recipients with classic ones.
func IsPostQuantum(recipient string) bool {
	return strings.HasPrefix(recipient, "age1pq1")
}

// short cuts a public string for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// looksPrivate tells whether s is a private key: an age identity or a PEM
// block (an ssh or other private key).
func looksPrivate(s string) bool {
	u := strings.ToUpper(strings.TrimSpace(s))
	return strings.HasPrefix(u, "AGE-SECRET-KEY-") || strings.HasPrefix(u, "AGE-PLUGIN-") || strings.HasPrefix(u, "-----BEGIN") && strings.Contains(u, "PRIVATE KEY")
}
