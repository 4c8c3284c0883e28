package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sluice-dev/sluice/steps/signing"
)

// SigningKeyInfo describes one signing key of a store: an Ed25519 key pair
// whose private half signs manifests and whose public half verifies them.
// It holds no secret.
type SigningKeyInfo struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`       // ssh-ed25519
	PublicKey   string    `json:"public_key"` // "ssh-ed25519 BASE64"
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"state"` // pending, active or retired
	Created     time.Time `json:"created"`
	Activated   time.Time `json:"activated,omitzero"`
	Retired     time.Time `json:"retired,omitzero"`
}

// SigningKeyID returns the id of the signing key whose canonical public key
// ("ssh-ed25519 BASE64") is pub: "s-" and 16 hex digits of its SHA-256.
func SigningKeyID(pub string) string {
	sum := sha256.Sum256([]byte(pub))
	return "s-" + hex.EncodeToString(sum[:8])
}

// checkSigningKeys verifies the signing keys of a ledger: known type and
// state, ids unique (among all keys), at most one active.
func checkSigningKeys(ks []SigningKeyInfo, seen map[string]bool) error {
	active := 0
	for i, k := range ks {
		if k.ID == "" || seen[k.ID] {
			return fmt.Errorf("signing key %d: id %q is empty or repeated", i, k.ID)
		}
		seen[k.ID] = true
		if k.Type != signing.KeyType {
			return fmt.Errorf("signing key %s: unknown type %q", k.ID, k.Type)
		}
		switch k.State {
		case StateActive:
			active++
		case StatePending, StateRetired:
		default:
			return fmt.Errorf("signing key %s: unknown state %q", k.ID, k.State)
		}
	}
	if active > 1 {
		return fmt.Errorf("%d signing keys are active; a store has at most one: fix the ledger by hand", active)
	}
	return nil
}

// SigningKeys returns every signing key of the store, oldest first.
func (d *Dir) SigningKeys() []SigningKeyInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ledger.SigningKeys)
}

// ActiveSigningKey returns the key new manifests are signed with.
func (d *Dir) ActiveSigningKey() (SigningKeyInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := activeSigning(d.ledger); i >= 0 {
		return d.ledger.SigningKeys[i], nil
	}
	return SigningKeyInfo{}, fmt.Errorf("key folder %s has no signing key (made by a sluice before signed backups): run sluice keys init %s to add one", d.path, d.path)
}

func activeSigning(l *ledger) int {
	for i := range l.SigningKeys {
		if l.SigningKeys[i].State == StateActive {
			return i
		}
	}
	return -1
}

// createSigningKey generates a signing key pair and writes its files: the
// private key in OpenSSH's format (mode 0600, usable by ssh-keygen -Y sign)
// and the public key, one authorized_keys line. The ledger is not changed.
func (d *Dir) createSigningKey(now time.Time) (SigningKeyInfo, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKeyInfo{}, fmt.Errorf("generating signing key: %w", err)
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return SigningKeyInfo{}, err
	}
	canonical := canonicalSSH(spub)
	k := SigningKeyInfo{ID: SigningKeyID(canonical), Type: signing.KeyType, PublicKey: canonical,
		Fingerprint: ssh.FingerprintSHA256(spub), State: StatePending, Created: now}
	block, err := ssh.MarshalPrivateKey(priv, "sluice signing key "+k.ID)
	if err != nil {
		return SigningKeyInfo{}, fmt.Errorf("encoding signing key: %w", err)
	}
	if err := writeFileAtomic(d.KeyFile(k.ID), pem.EncodeToMemory(block), 0o600); err != nil {
		return SigningKeyInfo{}, fmt.Errorf("writing signing key %s: %w", k.ID, err)
	}
	if err := writeFileAtomic(d.RecipientFile(k.ID), []byte(canonical+" "+k.ID+"\n"), 0o644); err != nil {
		return SigningKeyInfo{}, fmt.Errorf("writing verification key %s: %w", k.ID, err)
	}
	return k, nil
}

// switchSigning records k as the active signing key in next, retiring the
// one active before; it returns the retired key's id ("" when none).
func switchSigning(next *ledger, k SigningKeyInfo, now time.Time) string {
	prev := ""
	if a := activeSigning(next); a >= 0 {
		prev = next.SigningKeys[a].ID
		next.SigningKeys[a].State, next.SigningKeys[a].Retired = StateRetired, now
	}
	k.State, k.Activated = StateActive, now
	next.SigningKeys = append(next.SigningKeys, k)
	return prev
}

// AddSigningKey gives a store made before signed backups its first signing
// key. It fails when the store already has an active one (rotate it with
// Rotate). The caller should hold the store's lock.
func (d *Dir) AddSigningKey() (SigningKeyInfo, error) {
	if k, err := d.ActiveSigningKey(); err == nil {
		return SigningKeyInfo{}, fmt.Errorf("key folder %s already has the signing key %s: rotate it with the rotate-key step", d.path, k.ID)
	}
	now := time.Now().UTC().Truncate(time.Second)
	k, err := d.createSigningKey(now)
	if err != nil {
		return SigningKeyInfo{}, err
	}
	var added SigningKeyInfo
	err = d.update(func(next *ledger) error {
		if i := activeSigning(next); i >= 0 {
			return fmt.Errorf("key folder %s already has the signing key %s: rotate it with the rotate-key step", d.path, next.SigningKeys[i].ID)
		}
		switchSigning(next, k, now)
		added = next.SigningKeys[len(next.SigningKeys)-1]
		return nil
	})
	return added, err
}

// Signer returns the active signing key's signer. A store copied without
// its private signing key (a verify or restore host's) cannot sign.
func (d *Dir) Signer() (*signing.Signer, error) {
	k, err := d.ActiveSigningKey()
	if err != nil {
		return nil, err
	}
	data, err := ReadPrivateFile(d.KeyFile(k.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key folder %s holds only the public half of signing key %s (%s is missing): this host cannot sign backups; run backups with the store that holds it", d.path, k.ID, d.KeyFile(k.ID))
	}
	if err != nil {
		return nil, fmt.Errorf("reading signing key %s: %w", k.ID, err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: not an unencrypted OpenSSH private key: %v", d.KeyFile(k.ID), safeSSHError(err))
	}
	if SigningKeyID(canonicalSSH(s.PublicKey())) != k.ID {
		return nil, fmt.Errorf("signing key file %s does not hold key %s: the key folder was changed by hand; restore it from a copy", d.KeyFile(k.ID), k.ID)
	}
	return signing.NewSigner(k.ID, s)
}

// safeSSHError keeps only errors that cannot quote key material.
func safeSSHError(err error) error {
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return errors.New("it is passphrase-protected and sluice cannot prompt")
	}
	return errors.New("it does not parse")
}

// Verifier returns the store's verification keys, active and retired (a
// retired key still verifies the backups signed before a rotation), each
// read from its public key file and checked against the ledger. Only public
// files are read: a store with public parts only verifies.
func (d *Dir) Verifier() (*signing.Verifier, error) {
	var out []signing.Key
	for _, k := range d.SigningKeys() {
		if k.State == StatePending {
			continue
		}
		data, err := os.ReadFile(d.RecipientFile(k.ID))
		if err != nil {
			return nil, fmt.Errorf("reading verification key %s: %w", k.ID, err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("verification key file %s: %w", d.RecipientFile(k.ID), err)
		}
		if SigningKeyID(canonicalSSH(pub)) != k.ID {
			return nil, fmt.Errorf("verification key file %s holds %s, not key %s: the key folder was changed by hand; restore it from a copy", d.RecipientFile(k.ID), SigningKeyID(canonicalSSH(pub)), k.ID)
		}
		out = append(out, signing.Key{ID: k.ID, Public: pub})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("key folder %s has no signing key to verify backups with: run sluice keys init %s to add one", d.path, d.path)
	}
	return signing.NewVerifier("key store "+d.path, out), nil
}

// OpenVerifier reads verification keys from path: a dir key store (its
// signing keys' public halves) or an allowed_signers file (see
// signing.AllowedSigners).
func OpenVerifier(path string) (*signing.Verifier, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verification keys %s: %w", path, err)
	}
	if fi.IsDir() {
		d, err := OpenDir(path)
		if err != nil {
			return nil, err
		}
		return d.Verifier()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ks, err := signing.ParseAllowedSigners(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("allowed signers file %s has no %s key for principal %q", path, signing.KeyType, signing.Principal)
	}
	abs, _ := filepath.Abs(path)
	return signing.NewVerifier("allowed signers "+abs, ks), nil
}
