package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
)

// Dir is the directory key store. Its folder (mode 0700) holds:
//
//	ledger.json   every key's id, type, recipient, state and times
//	k-<id>.key    an age identity, in age's own format (mode 0600), so
//	              that `age -d -i k-<id>.key` opens a backup without sluice
//	k-<id>.pub    its public recipient, one line
//	s-<id>.key    a signing key (Ed25519, OpenSSH format, mode 0600)
//	s-<id>.pub    its public half, the verification key (ssh-ed25519 line)
//
// Only the public files are needed to encrypt (a backup host's copy also
// holds the private signing key) and to verify signatures; decrypting needs
// the identities. A store copied with some private files left out works
// for what its files allow.
//
// Key files readable by group or others are refused. Every write is atomic
// (temporary file, fsync, rename). A Dir is safe for concurrent use within
// one process; two processes changing one store at once are not guarded
// against by Dir itself: Rotate and Destroy take the store's lock (see
// Lock).
type Dir struct {
	path string

	mu     sync.Mutex
	ledger *ledger
}

var _ Store = (*Dir)(nil)

// OpenDir opens an initialised key folder.
func OpenDir(path string) (*Dir, error) {
	if err := checkPrivateDir(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key folder %s does not exist: run sluice keys init %s (or set create: true on the plan's keys: entry)", path, path)
		}
		return nil, err
	}
	l, err := readLedger(path)
	if err != nil {
		return nil, err
	}
	return &Dir{path: path, ledger: l}, nil
}

// InitDir creates a key store in path (a new or empty folder, created with
// mode 0700) with one active key of type typ (DefaultType when empty). It
// refuses a folder that is already a store or holds other files.
func InitDir(path, typ string) (*Dir, KeyInfo, error) {
	if typ == "" {
		typ = DefaultType
	}
	if err := checkType(typ); err != nil {
		return nil, KeyInfo{}, err
	}
	if err := prepareDir(path); err != nil {
		return nil, KeyInfo{}, err
	}
	d := &Dir{path: path, ledger: &ledger{Version: ledgerVersion, Keys: []KeyInfo{}}}
	if err := d.ledger.write(path); err != nil {
		return nil, KeyInfo{}, err
	}
	k, err := d.CreateKey(typ)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	k, err = d.Activate(k.ID)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	if _, err := d.AddSigningKey(); err != nil {
		return nil, KeyInfo{}, err
	}
	return d, k, nil
}

// prepareDir makes path an empty folder with mode 0700.
func prepareDir(path string) error {
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating key folder %s: %w", path, err)
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			return fmt.Errorf("creating key folder %s: %w", path, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("opening key folder %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err != nil {
		return err
	} else if err := checkOwner("key folder", path, fi); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == LedgerFile {
			return fmt.Errorf("key folder %s is already initialised: use sluice keys list to see its keys", path)
		}
	}
	if len(entries) > 0 {
		return fmt.Errorf("key folder %s is not empty: choose a new or empty folder", path)
	}
	// An empty folder is ours now; close it to group and others.
	if err := os.Chmod(path, 0o700); err != nil {
		return fmt.Errorf("restricting key folder %s: %w", path, err)
	}
	return nil
}

func checkType(typ string) error {
	if typ != TypeHybrid && typ != TypeX25519 {
		return fmt.Errorf("unknown key type %q: use %s (post-quantum, the default) or %s (readable by age before 1.3)", typ, TypeHybrid, TypeX25519)
	}
	return nil
}

// Path returns the store's folder.
func (d *Dir) Path() string { return d.path }

// KeyFile returns the path of the identity file of key id, for
// `age -d -i`.
func (d *Dir) KeyFile(id string) string { return filepath.Join(d.path, id+".key") }

// RecipientFile returns the path of the public recipient file of key id,
// for `age -R`.
func (d *Dir) RecipientFile(id string) string { return filepath.Join(d.path, id+".pub") }

// Keys returns every key of the store, oldest first.
func (d *Dir) Keys() []KeyInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ledger.Keys)
}

// Key returns the key with id.
func (d *Dir) Key(id string) (KeyInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.ledger.find(id)
	if i < 0 {
		return KeyInfo{}, fmt.Errorf("key folder %s has no key %s", d.path, id)
	}
	return d.ledger.Keys[i], nil
}

// Active returns the key new backups are encrypted to.
func (d *Dir) Active() (KeyInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.ledger.active()
	if i < 0 {
		return KeyInfo{}, fmt.Errorf("key folder %s has no active key: activate one or run sluice keys init in a new folder", d.path)
	}
	return d.ledger.Keys[i], nil
}

// Recipients returns the recipient of the active key, read from its .pub
// file and checked against the ledger.
func (d *Dir) Recipients() ([]age.Recipient, []KeyInfo, error) {
	k, err := d.Active()
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(d.RecipientFile(k.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("reading recipient of key %s: %w", k.ID, err)
	}
	r, _, id, err := ParseRecipient(string(data))
	if err != nil {
		return nil, nil, fmt.Errorf("reading recipient of key %s: %w", k.ID, err)
	}
	if id != k.ID {
		return nil, nil, fmt.Errorf("recipient file %s holds key %s, not %s: the key folder was changed by hand; restore it from a copy", d.RecipientFile(k.ID), id, k.ID)
	}
	return []age.Recipient{r}, []KeyInfo{k}, nil
}

// Identities returns the identity of every key (active first, then the
// others newest first), each checked against the ledger, with their infos at
// the same indexes. Keys whose identity file is absent (a copy of the store
// with public parts only) are left out; none at all is an error.
func (d *Dir) Identities() ([]age.Identity, []KeyInfo, error) {
	all := d.Keys()
	slices.Reverse(all)
	slices.SortStableFunc(all, func(a, b KeyInfo) int {
		return boolRank(a.State == StateActive) - boolRank(b.State == StateActive)
	})
	all = slices.DeleteFunc(all, func(k KeyInfo) bool { return k.State == StateDestroyed })
	var ids []age.Identity
	var public []string
	for _, k := range all {
		got, infos, err := ReadIdentityFile(d.KeyFile(k.ID))
		if errors.Is(err, fs.ErrNotExist) {
			// A copy with public parts only (a backup or verify host's).
			public = append(public, k.ID)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading identity of key %s: %w", k.ID, err)
		}
		if len(got) != 1 || infos[0].ID != k.ID {
			return nil, nil, fmt.Errorf("key file %s does not hold exactly key %s: the key folder was changed by hand; restore it from a copy", d.KeyFile(k.ID), k.ID)
		}
		ids = append(ids, got[0])
	}
	all = slices.DeleteFunc(all, func(k KeyInfo) bool { return slices.Contains(public, k.ID) })
	if len(ids) == 0 && len(public) > 0 {
		return nil, nil, fmt.Errorf("key folder %s holds only public keys (no identity file for %s): this host cannot decrypt; use the store that holds the identities", d.path, strings.Join(public, ", "))
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("key folder %s holds no keys", d.path)
	}
	return ids, all, nil
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

// CreateKey generates a new key of type typ, writes its identity and
// recipient files and records it in the ledger as pending: it can decrypt,
// but nothing is encrypted to it until Activate. Key rotation is CreateKey
// followed by Activate.
func (d *Dir) CreateKey(typ string) (KeyInfo, error) {
	if err := checkType(typ); err != nil {
		return KeyInfo{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	var secret, recipient string
	switch typ {
	case TypeHybrid:
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			return KeyInfo{}, fmt.Errorf("generating %s key: %w", typ, err)
		}
		secret, recipient = id.String(), id.Recipient().String()
	case TypeX25519:
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return KeyInfo{}, fmt.Errorf("generating %s key: %w", typ, err)
		}
		secret, recipient = id.String(), id.Recipient().String()
	}
	k := KeyInfo{ID: KeyID(recipient), Type: typ, Recipient: recipient, State: StatePending, Created: now}

	// Files first, ledger last: the ledger never names a key whose files
	// are missing.
	body := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", now.Format(time.RFC3339), recipient, secret)
	if err := writeFileAtomic(d.KeyFile(k.ID), []byte(body), 0o600); err != nil {
		return KeyInfo{}, fmt.Errorf("writing identity of key %s: %w", k.ID, err)
	}
	if err := writeFileAtomic(d.RecipientFile(k.ID), []byte(recipient+"\n"), 0o644); err != nil {
		return KeyInfo{}, fmt.Errorf("writing recipient of key %s: %w", k.ID, err)
	}
	err := d.update(func(next *ledger) error {
		next.Keys = append(next.Keys, k)
		return nil
	})
	if err != nil {
		return KeyInfo{}, err
	}
	return k, nil
}

// Activate makes the pending key id the active one and retires the key that
// was active before (which stays able to decrypt). It returns the activated
// key.
func (d *Dir) Activate(id string) (KeyInfo, error) {
	var k KeyInfo
	err := d.update(func(next *ledger) error {
		i := next.find(id)
		if i < 0 {
			return fmt.Errorf("key folder %s has no key %s", d.path, id)
		}
		if next.Keys[i].State != StatePending {
			return fmt.Errorf("key %s is %s; only a pending key can be activated", id, next.Keys[i].State)
		}
		now := time.Now().UTC().Truncate(time.Second)
		if a := next.active(); a >= 0 {
			next.Keys[a].State = StateRetired
			next.Keys[a].Retired = now
		}
		next.Keys[i].State = StateActive
		next.Keys[i].Activated = now
		k = next.Keys[i]
		return nil
	})
	return k, err
}

// PublicOnly reports whether the store holds no identity file for any of
// its keys (a copy for a backup or verify host): it cannot decrypt, and
// it is not the store where rotations run.
func (d *Dir) PublicOnly() bool {
	for _, k := range d.Keys() {
		if k.State == StateDestroyed {
			continue
		}
		if _, err := os.Lstat(d.KeyFile(k.ID)); err == nil {
			return false
		}
	}
	return true
}
