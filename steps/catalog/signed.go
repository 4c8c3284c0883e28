package catalog

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// Signature states of a backup that passed the gate.
const (
	// SignatureValid: signed by one of the trusted verification keys.
	SignatureValid = "signed"
	// SignatureUnsigned: no signature (a backup made before signing, or a
	// forgery), accepted only because Trust.AllowUnsigned said so.
	SignatureUnsigned = "unsigned"
	// SignatureUnchecked: signed, but no verification keys were given;
	// accepted only because Trust.AllowUnsigned said so.
	SignatureUnchecked = "unchecked"
)

// Trust is what the gate checks manifests against. The zero Trust accepts
// no manifest: every one becomes an error (callers that only need to know
// which objects have a manifest, not what it says, may use it).
type Trust struct {
	// Verifier holds the verification keys; nil when none were given.
	Verifier *signing.Verifier
	// AllowUnsigned accepts a manifest without a signature (and, without a
	// Verifier, a signed one unchecked). Each acceptance is warned about.
	// A signature that is present and does not verify is never accepted.
	AllowUnsigned bool
	// Warn logs an accepted unsigned manifest (hclog.Logger.Warn fits).
	Warn func(msg string, args ...any)
}

// Signature says how a manifest passed the gate.
type Signature struct {
	State string `json:"state"`            // SignatureValid, SignatureUnsigned or SignatureUnchecked
	KeyID string `json:"key_id,omitempty"` // the verification key that checked it
}

// String renders the state for a table: "signed s-0123...", "UNSIGNED".
func (s Signature) String() string {
	switch s.State {
	case SignatureValid:
		return "signed " + s.KeyID
	case "":
		return "-"
	}
	return "UNSIGNED"
}

// SignatureError is the gate's refusal of a backup: it names the backup and
// says what was checked.
type SignatureError struct {
	URL    string // the backup's object
	Kind   string // ProblemUnsigned or ProblemSignature
	Detail string
	Err    error // the verification error, when there was one
}

func (e *SignatureError) Error() string { return "backup " + e.URL + ": " + e.Detail }

// Unwrap returns the verification error.
func (e *SignatureError) Unwrap() error { return e.Err }

// Signed is a manifest that passed the gate, with the exact bytes that were
// checked.
type Signed struct {
	Manifest  *manifest.Manifest
	Raw       []byte
	Sig       []byte // the armored signature; nil when unsigned
	Signature Signature
}

// ReadManifest is the gate every reader of a backup goes through, and the
// one way the catalogue reads a manifest: it reads the manifest of object
// and its detached signature, checks the signature over the manifest's
// exact bytes against t's verification keys, and only then parses the
// manifest and checks it (see CheckSignature). No field of a manifest is
// used, and no byte of its object should be, before this returns without
// error. A refused signature is a *SignatureError, a manifest that cannot
// be trusted otherwise (too large, not a manifest, describing another
// object) an *UntrustedError; any other error is a failure to read the
// storage. An object without a manifest is unsigned.
func ReadManifest(ctx context.Context, b blob.Backend, object string, t Trust) (*Signed, error) {
	data, err := ReadSmall(ctx, b, manifest.ManifestName(object))
	if errors.Is(err, ErrTooLarge) {
		return nil, &UntrustedError{Manifest: b.URL(manifest.ManifestName(object)), Kind: ProblemUnreadable,
			Detail: fmt.Sprintf("it is larger than %d KiB, which no manifest sluice writes is: repair or remove it", manifest.MaxSize>>10)}
	}
	if errors.Is(err, blob.ErrNotExist) {
		if _, err := b.Stat(ctx, object); err != nil {
			return nil, err // no object either: say that
		}
		if err := t.unsigned(b.URL(object), "it has no manifest ("+path.Base(manifest.ManifestName(object))+"), so nothing vouches for its bytes"); err != nil {
			return nil, err
		}
		return &Signed{Signature: Signature{State: SignatureUnsigned}}, nil
	}
	if err != nil {
		return nil, err
	}
	sig, err := ReadSmall(ctx, b, manifest.SignatureName(object))
	if err != nil && !errors.Is(err, blob.ErrNotExist) && !errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	return t.CheckSignature(b.URL(object), object, data, sig, !errors.Is(err, blob.ErrNotExist))
}

// CheckSignature runs the gate (the signature check) on manifest bytes
// already read: data is the manifest of object (whose URL is url), sig its
// signature when hasSig. After the signature, the manifest must parse,
// describe object, and keep its summary under MaxSummary.
func (t Trust) CheckSignature(url, object string, data, sig []byte, hasSig bool) (*Signed, error) {
	sigName := path.Base(manifest.SignatureName(object))
	var s Signature
	switch {
	case !hasSig:
		what := "no signature " + sigName + " next to its manifest"
		if err := t.unsigned(url, what); err != nil {
			return nil, err
		}
		s.State = SignatureUnsigned
	case t.Verifier == nil && t.AllowUnsigned:
		t.warn(url, "its manifest signature was NOT checked: no verification keys were given")
		s.State = SignatureUnchecked
	default:
		k, err := t.Verifier.Verify(data, sig, signing.ManifestNamespace)
		if err != nil {
			return nil, t.refuse(url, sigName, err)
		}
		s = Signature{State: SignatureValid, KeyID: k.ID}
	}
	untrusted := func(kind, detail string) error {
		return &UntrustedError{Manifest: url + manifestSuffix, Kind: kind, Detail: detail}
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, untrusted(ProblemUnreadable, err.Error()+"; repair or remove it")
	}
	if m.Object != path.Base(object) {
		return nil, untrusted(ProblemRenamed, fmt.Sprintf("describes object %q, not %q; it was renamed or copied: repair or remove it", m.Object, path.Base(object)))
	}
	if n := summarySize(m); n > MaxSummary {
		return nil, untrusted(ProblemUnreadable, fmt.Sprintf("its plan, run id, database and key ids take %d bytes, more than the %d KiB a manifest sluice writes holds: repair or remove it", n, MaxSummary>>10))
	}
	if !hasSig {
		sig = nil
	}
	return &Signed{Manifest: m, Raw: data, Sig: sig, Signature: s}, nil
}

// unsigned accepts (with a warning) or refuses a backup without a
// signature; what says what is missing.
func (t Trust) unsigned(url, what string) error {
	if t.AllowUnsigned {
		t.warn(url, "UNSIGNED backup accepted because unsigned backups are allowed: "+what)
		return nil
	}
	return &SignatureError{URL: url, Kind: ProblemUnsigned, Detail: fmt.Sprintf(
		"not signed: %s (checked for an sshsig signature of its manifest by %s); a backup made before signing, or a forgery: check it and adopt it with sluice backups sign, or allow unsigned backups explicitly (--allow-unsigned, allow_unsigned: true)",
		what, t.Verifier.Describe())}
}

// refuse explains a signature that is present but not acceptable.
func (t Trust) refuse(url, sigName string, err error) error {
	var detail string
	switch {
	case errors.Is(err, signing.ErrNoKeys):
		detail = "cannot check its manifest signature " + sigName + ": no verification keys were given (a key store with --key-dir, or verify_with: a keys: entry)"
	case errors.Is(err, signing.ErrUnknownKey):
		detail = fmt.Sprintf("manifest signature %s is not by %s: %v; do not use this backup", sigName, t.Verifier.Describe(), err)
	default:
		detail = fmt.Sprintf("manifest signature %s does not verify against %s: %v; the manifest was changed after it was signed: do not use this backup", sigName, t.Verifier.Describe(), err)
	}
	return &SignatureError{URL: url, Kind: ProblemSignature, Detail: detail, Err: err}
}

func (t Trust) warn(url, msg string) {
	if t.Warn != nil {
		t.Warn(msg, "backup", url)
	}
}
