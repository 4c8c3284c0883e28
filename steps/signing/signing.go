// Package signing signs and verifies sluice's manifests (and rewrap
// journals) with Ed25519 keys in OpenSSH's sshsig format, so that a standard
// tool checks a backup without sluice:
//
//	ssh-keygen -Y verify -f allowed_signers -I sluice -n manifest@sluice.dev \
//	    -s NAME.manifest.json.sig < NAME.manifest.json
//
// A signature covers the exact bytes it was made over; nothing in this
// package parses what it verifies. Keys are named by id (see package keys);
// key material never appears in an error.
package signing

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Namespaces keep a signature made for one purpose from being accepted for
// another (PROTOCOL.sshsig).
const (
	// ManifestNamespace is the namespace of a manifest's signature, the -n
	// of ssh-keygen -Y verify.
	ManifestNamespace = "manifest@sluice.dev"
	// JournalNamespace is the namespace of a rewrap journal's signature.
	JournalNamespace = "rewrap-journal@sluice.dev"
)

// Principal is the signer identity sluice writes into allowed_signers files,
// the -I of ssh-keygen -Y verify.
const Principal = "sluice"

// KeyType is the only signing key type sluice makes and accepts.
const KeyType = ssh.KeyAlgoED25519

// maxSignature bounds an armored signature: an Ed25519 sshsig is about 300
// bytes.
const maxSignature = 16 << 10

// Key is a verification key: a public Ed25519 key and its id.
type Key struct {
	ID     string
	Public ssh.PublicKey
}

// Fingerprint is the key's SHA256 fingerprint as ssh-keygen prints it.
func (k Key) Fingerprint() string { return ssh.FingerprintSHA256(k.Public) }

// Signer signs with one private key.
type Signer struct {
	ID string
	s  ssh.Signer
}

// NewSigner wraps an Ed25519 ssh.Signer known by id.
func NewSigner(id string, s ssh.Signer) (*Signer, error) {
	if t := s.PublicKey().Type(); t != KeyType {
		return nil, fmt.Errorf("signing key %s is %s: sluice signs with %s keys only", id, t, KeyType)
	}
	return &Signer{ID: id, s: s}, nil
}

// Key returns the signer's verification key.
func (s *Signer) Key() Key { return Key{ID: s.ID, Public: s.s.PublicKey()} }

// Sign returns the armored sshsig signature of data in namespace, as
// ssh-keygen -Y sign writes it.
func (s *Signer) Sign(data []byte, namespace string) ([]byte, error) {
	sig, err := sshsig.Sign(bytes.NewReader(data), s.s, sshsig.HashSHA512, namespace)
	if err != nil {
		return nil, fmt.Errorf("signing with key %s: %w", s.ID, err)
	}
	return sshsig.Armor(sig), nil
}

// Errors a verification returns, wrapped with the details.
var (
	// ErrMalformed: the signature file is not an sshsig signature.
	ErrMalformed = errors.New("not an ssh signature")
	// ErrUnknownKey: the signature is by a key that is not trusted.
	ErrUnknownKey = errors.New("signed by a key that is not a verification key")
	// ErrBadSignature: the signature does not cover these bytes.
	ErrBadSignature = errors.New("signature does not match")
	// ErrNoKeys: there is nothing to verify with.
	ErrNoKeys = errors.New("no verification keys")
)

// Verifier checks signatures against a set of trusted keys.
type Verifier struct {
	// Source says where the keys come from, for messages: "key store
	// ./keys/backup".
	Source string
	keys   []Key
}

// NewVerifier trusts keys; source says where they come from.
func NewVerifier(source string, keys []Key) *Verifier {
	return &Verifier{Source: source, keys: append([]Key(nil), keys...)}
}

// Keys returns the trusted keys.
func (v *Verifier) Keys() []Key { return append([]Key(nil), v.keys...) }

// IDs returns the ids of the trusted keys.
func (v *Verifier) IDs() []string {
	ids := make([]string, len(v.keys))
	for i, k := range v.keys {
		ids[i] = k.ID
	}
	return ids
}

// Describe names the keys and their source for a message: "the
// verification keys of key store ./keys (s-1234, s-5678)".
func (v *Verifier) Describe() string {
	if v == nil || len(v.keys) == 0 {
		return "no verification keys"
	}
	return fmt.Sprintf("the verification keys of %s (%s)", v.Source, strings.Join(v.IDs(), ", "))
}

// Verify checks that armored is a signature of data in namespace by one of
// the trusted keys and returns that key. It checks, in order: the armor and
// encoding, the namespace, that the key is trusted, then the signature over
// data's bytes.
func (v *Verifier) Verify(data, armored []byte, namespace string) (Key, error) {
	if v == nil || len(v.keys) == 0 {
		return Key{}, ErrNoKeys
	}
	if len(armored) > maxSignature {
		return Key{}, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxSignature)
	}
	if b, _ := pem.Decode(armored); b == nil || b.Type != sshsig.PEMType {
		return Key{}, fmt.Errorf("%w: no %q armor", ErrMalformed, sshsig.PEMType)
	}
	sig, err := sshsig.Unarmor(armored)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if sig.Namespace != namespace {
		return Key{}, fmt.Errorf("%w: namespace %q, want %q (a signature made for another purpose)", ErrBadSignature, short(sig.Namespace), namespace)
	}
	if t := sig.PublicKey.Type(); t != KeyType {
		return Key{}, fmt.Errorf("%w: %s key %s (sluice trusts %s keys only)", ErrUnknownKey, t, ssh.FingerprintSHA256(sig.PublicKey), KeyType)
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	var key Key
	for _, k := range v.keys {
		if k.Fingerprint() == fp {
			key = k
			break
		}
	}
	if key.Public == nil {
		return Key{}, fmt.Errorf("%w: key %s", ErrUnknownKey, fp)
	}
	if err := sig.HashAlgorithm.Available(); err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := sshsig.Verify(bytes.NewReader(data), sig, key.Public, sig.HashAlgorithm, namespace); err != nil {
		return Key{}, fmt.Errorf("%w: key %s does not sign these bytes", ErrBadSignature, key.ID)
	}
	return key, nil
}

// short cuts a string from storage for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
