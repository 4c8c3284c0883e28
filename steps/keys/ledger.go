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
	"syscall"
)

// LedgerFile is the name of a dir store's ledger.
const LedgerFile = "ledger.json"

// ledgerVersion is the newest format version of ledgers. Version 2 added
// signing keys, version 3 the destinations; older versions are still read.
// A ledger is written with the oldest version that holds its content, so
// that a store without destinations stays readable by the sluice releases
// that know version 2.
const ledgerVersion = 3

// ledger is the JSON document that lists a dir store's keys. It holds only
// public facts: ids, types, recipients, states and times.
type ledger struct {
	Version int       `json:"version"`
	Keys    []KeyInfo `json:"keys"`
	// SigningKeys are the Ed25519 keys that sign manifests, oldest first.
	SigningKeys []SigningKeyInfo `json:"signing_keys,omitempty"`
	// Events records rotations and destructions: who, when, why.
	Events []Event `json:"events,omitempty"`
	// Destinations are where backups encrypted to the store's keys were
	// written (see Destination).
	Destinations []Destination `json:"destinations,omitempty"`
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
	if l.Version < 1 || l.Version > ledgerVersion {
		return fmt.Errorf("ledger version %d is not supported (this sluice reads versions 1 to %d): upgrade sluice", l.Version, ledgerVersion)
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
	return &ledger{Version: ledgerVersion, Keys: slices.Clone(l.Keys), SigningKeys: slices.Clone(l.SigningKeys), Events: slices.Clone(l.Events),
		Destinations: slices.Clone(l.Destinations)}
}

// write stores the ledger atomically in dir. Every change of an existing
// store's ledger goes through Dir.update, which holds the ledger lock.
func (l *ledger) write(dir string) error {
	l.Version = 2
	if len(l.Destinations) > 0 {
		l.Version = 3
	}
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

// ledgerLockFile is the name of the lock every change of a dir store's
// ledger holds, briefly: a backup recording its destination must not lose
// a rotation's change, nor a rotation the backup's.
const ledgerLockFile = ".ledger.lock"

// update changes the store's ledger under the ledger lock (flock(2) on
// ledgerLockFile, held for one read and one write): the ledger is read
// again, change edits a copy, and the copy is written atomically. A change
// that returns an error leaves the ledger as it was.
func (d *Dir) update(change func(next *ledger) error) error {
	f, err := os.OpenFile(filepath.Join(d.path, ledgerLockFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("locking the ledger of key folder %s: %w", d.path, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking the ledger of key folder %s: %w", d.path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	l, err := readLedger(d.path)
	if err != nil {
		return err
	}
	next := l.clone()
	if err := change(next); err != nil {
		return err
	}
	if err := next.write(d.path); err != nil {
		return err
	}
	d.mu.Lock()
	d.ledger = next
	d.mu.Unlock()
	return nil
}
