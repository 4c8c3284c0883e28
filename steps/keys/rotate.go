package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Ledger event actions.
const (
	EventRotated   = "rotated"
	EventDestroyed = "destroyed"
)

// Event is one entry of a store's history: a rotation (From retired, To
// activated) or a destruction (From destroyed). It holds no secret.
type Event struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	// SigningFrom and SigningTo are the signing keys a rotation retired and
	// activated.
	SigningFrom string `json:"signing_from,omitempty"`
	SigningTo   string `json:"signing_to,omitempty"`
}

// Events returns the store's history, oldest first.
func (d *Dir) Events() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ledger.Events)
}

// RotateOptions tune Rotate.
type RotateOptions struct {
	Type   string // key type of the new key; DefaultType when empty
	Actor  string // who rotates; Actor() when empty
	Reason string
	// MaxAge, when positive, rotates only when the active key was
	// activated at least MaxAge ago.
	MaxAge time.Duration
	// DryRun decides and reports without changing anything.
	DryRun bool
	// Now is the current time; time.Now when zero (tests set it).
	Now time.Time
}

// RotateResult says what Rotate did (or would do, in a dry run).
type RotateResult struct {
	Rotated bool
	// Previous is the key that was active before (retired by a rotation).
	Previous KeyInfo
	// Active is the key active afterwards (the new key when rotated).
	Active KeyInfo
	// Age is how long Previous had been active when Rotate decided.
	Age time.Duration
}

// Rotate creates a key, activates it and retires the active one, and does
// the same with the signing key (a store without one gets its first),
// recording an EventRotated. The caller must hold the store's lock (Lock) so that two
// rotations cannot interleave. Each file write is atomic; the identity and
// recipient files are written before the ledger, so a crash leaves at most an
// unused pending key.
func (d *Dir) Rotate(opts RotateOptions) (RotateResult, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	typ := opts.Type
	if typ == "" {
		typ = DefaultType
	}
	if err := checkType(typ); err != nil {
		return RotateResult{}, err
	}
	prev, err := d.Active()
	if err != nil {
		return RotateResult{}, err
	}
	res := RotateResult{Previous: prev, Active: prev, Age: ActiveAge(prev, now)}
	if opts.MaxAge > 0 && res.Age < opts.MaxAge {
		return res, nil
	}
	res.Rotated = true
	if opts.DryRun {
		res.Active = KeyInfo{Type: typ, State: StateActive}
		return res, nil
	}
	k, err := d.CreateKey(typ)
	if err != nil {
		return RotateResult{}, err
	}
	stamp := now.UTC().Truncate(time.Second)
	sk, err := d.createSigningKey(stamp)
	if err != nil {
		return RotateResult{}, err
	}
	actor := opts.Actor
	if actor == "" {
		actor = Actor()
	}
	err = d.update(func(next *ledger) error {
		a, i := next.active(), next.find(k.ID)
		if a < 0 || next.Keys[a].ID != prev.ID || i < 0 {
			return fmt.Errorf("the ledger of key folder %s changed during the rotation (its active key is no longer %s): is another process rotating without the store's lock?", d.path, prev.ID)
		}
		next.Keys[a].State, next.Keys[a].Retired = StateRetired, stamp
		next.Keys[i].State, next.Keys[i].Activated = StateActive, stamp
		prevSigning := switchSigning(next, sk, stamp)
		next.Events = append(next.Events, Event{Time: stamp, Action: EventRotated, From: prev.ID, To: k.ID, Actor: actor, Reason: opts.Reason,
			SigningFrom: prevSigning, SigningTo: sk.ID})
		res.Previous, res.Active = next.Keys[a], next.Keys[i]
		return nil
	})
	if err != nil {
		return RotateResult{}, err
	}
	return res, nil
}

// ActiveAge is how long k has been active at now (since its creation when
// it has no activation time).
func ActiveAge(k KeyInfo, now time.Time) time.Duration {
	since := k.Activated
	if since.IsZero() {
		since = k.Created
	}
	return now.Sub(since)
}

// DestroyOptions tune Destroy.
type DestroyOptions struct {
	Actor  string
	Reason string
	// Check, when set, runs under the lock before anything is removed; an
	// error refuses the destruction (the CLI checks that no backup still
	// needs the key).
	Check func() error
}

// Destroy erases the identity of a retired or pending key: its key file is
// overwritten with random bytes, synced and removed, and the ledger marks
// the key destroyed with an EventDestroyed. The caller must hold the lock.
//
// Overwriting helps only where the file system rewrites blocks in place
// (ext4, xfs without reflinks). On copy-on-write or journaling-data file
// systems (btrfs, zfs, ext4 data=journal), snapshots, SSD wear levelling and
// backups of the key folder, old copies of the key may survive: destroy
// those copies by their own means.
func (d *Dir) Destroy(id string, opts DestroyOptions) (KeyInfo, error) {
	k, err := d.Key(id)
	if err != nil {
		return KeyInfo{}, err
	}
	switch k.State {
	case StateActive:
		return KeyInfo{}, fmt.Errorf("key %s is the active key: rotate first, then destroy it once no backup needs it", id)
	case StateDestroyed:
		return KeyInfo{}, fmt.Errorf("key %s is already destroyed", id)
	}
	if opts.Check != nil {
		if err := opts.Check(); err != nil {
			return KeyInfo{}, err
		}
	}
	if err := shred(d.KeyFile(id)); err != nil {
		return KeyInfo{}, fmt.Errorf("destroying key %s: %w", id, err)
	}
	actor := opts.Actor
	if actor == "" {
		actor = Actor()
	}
	now := time.Now().UTC().Truncate(time.Second)
	err = d.update(func(next *ledger) error {
		i := next.find(id)
		if i < 0 {
			return fmt.Errorf("key folder %s has no key %s", d.path, id)
		}
		next.Keys[i].State, next.Keys[i].Destroyed = StateDestroyed, now
		next.Events = append(next.Events, Event{Time: now, Action: EventDestroyed, From: id, Actor: actor, Reason: opts.Reason})
		k = next.Keys[i]
		return nil
	})
	if err != nil {
		return KeyInfo{}, err
	}
	return k, nil
}

// shred overwrites path with random bytes, syncs it, removes it and syncs
// its folder. A missing file is not an error (a crash after the removal and
// before the ledger write).
func shred(path string) error {
	// Not through a link: the write would land in whatever it points to.
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("key file %s is a symbolic link: not overwriting what it points to; destroy that file by hand and remove the link", path)
	case err != nil:
		return err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil {
		junk := make([]byte, st.Size())
		rand.Read(junk)
		_, err = f.WriteAt(junk, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("overwriting %s: %w", filepath.Base(path), err)
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
