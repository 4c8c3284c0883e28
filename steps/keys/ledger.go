package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// LedgerFile is the name of a dir store's ledger.
const LedgerFile = "ledger.json"

// ledgerVersion is the format version written to ledgers. Version 2 added
// signing keys; a version 1 ledger (no signing keys) is still read.
const ledgerVersion = 2

// ledger is the JSON document that lists a dir store's keys. It holds only
// public facts: ids, types, recipients, states and times.
type ledger struct {
	Version int       `json:"version"`
	Keys    []KeyInfo `json:"keys"`
	// SigningKeys are the Ed25519 keys that sign manifests, oldest first.
	SigningKeys []SigningKeyInfo `json:"signing_keys,omitempty"`
	// Events records rotations and destructions: who, when, why.
	Events []Event `json:"events,omitempty"`
}

// readLedger reads and checks the ledger of the store at dir.
func readLedger(dir string) (*ledger, error) {
	path := filepath.Join(dir, LedgerFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key folder %s is not initialised (no %s): run sluice keys init", dir, LedgerFile)
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l ledger
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := l.check(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &l, nil
}

// check verifies the ledger's invariants: supported version, known types and
// states, unique ids, at most one active key.
func (l *ledger) check() error {
	if l.Version != 1 && l.Version != ledgerVersion {
		return fmt.Errorf("ledger version %d is not supported (this sluice reads versions 1 and %d): upgrade sluice", l.Version, ledgerVersion)
	}
	seen := make(map[string]bool, len(l.Keys))
	active := 0
	for i, k := range l.Keys {
		if k.ID == "" || seen[k.ID] {
			return fmt.Errorf("key %d: id %q is empty or repeated", i, k.ID)
		}
		seen[k.ID] = true
		if k.Type != TypeHybrid && k.Type != TypeX25519 {
			return fmt.Errorf("key %s: unknown type %q", k.ID, k.Type)
		}
		switch k.State {
		case StateActive:
			active++
		case StatePending, StateRetired, StateDestroyed:
		default:
			return fmt.Errorf("key %s: unknown state %q", k.ID, k.State)
		}
	}
	if active > 1 {
		return fmt.Errorf("%d keys are active; a store has at most one: fix the ledger by hand", active)
	}
	return checkSigningKeys(l.SigningKeys, seen)
}

// clone returns a copy whose lists can be changed without changing l.
func (l *ledger) clone() *ledger {
	return &ledger{Version: ledgerVersion, Keys: slices.Clone(l.Keys), SigningKeys: slices.Clone(l.SigningKeys), Events: slices.Clone(l.Events)}
}

// write stores the ledger atomically in dir.
func (l *ledger) write(dir string) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := writeFileAtomic(filepath.Join(dir, LedgerFile), data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", LedgerFile, err)
	}
	return nil
}

// find returns the index of the key with id, or -1.
func (l *ledger) find(id string) int {
	for i := range l.Keys {
		if l.Keys[i].ID == id {
			return i
		}
	}
	return -1
}

// active returns the index of the active key, or -1.
func (l *ledger) active() int {
	for i := range l.Keys {
		if l.Keys[i].State == StateActive {
			return i
		}
	}
	return -1
}
