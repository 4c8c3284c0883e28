package keys

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/signing"
)

func TestSigningKeyInitRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	d, _, err := InitDir(path, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := d.ActiveSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sk.ID, "s-") || len(sk.ID) != 18 || sk.Type != "ssh-ed25519" || sk.State != StateActive || !strings.HasPrefix(sk.Fingerprint, "SHA256:") {
		t.Fatalf("signing key = %+v", sk)
	}
	assertMode(t, d.KeyFile(sk.ID), 0o600)
	s, err := d.Signer()
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"object": "a"}` + "\n")
	sig, err := s.Sign(data, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	if k, err := v.Verify(data, sig, signing.ManifestNamespace); err != nil || k.ID != sk.ID {
		t.Fatalf("Verify = %v, %v; want key %s", k.ID, err, sk.ID)
	}

	// A rotation retires the signing key with the age key; the old one
	// still verifies what it signed, the new one signs.
	res, err := d.Rotate(RotateOptions{Type: TypeX25519, Now: time.Now()})
	if err != nil || !res.Rotated {
		t.Fatal(res, err)
	}
	d2, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	sks := d2.SigningKeys()
	if len(sks) != 2 || sks[0].State != StateRetired || sks[0].Retired.IsZero() || sks[1].State != StateActive {
		t.Fatalf("signing keys after rotation = %+v", sks)
	}
	ev := d2.Events()
	if len(ev) != 1 || ev[0].SigningFrom != sk.ID || ev[0].SigningTo != sks[1].ID {
		t.Errorf("rotation event = %+v, want signing %s -> %s", ev, sk.ID, sks[1].ID)
	}
	v2, _ := d2.Verifier()
	if k, err := v2.Verify(data, sig, signing.ManifestNamespace); err != nil || k.ID != sk.ID {
		t.Errorf("retired signing key no longer verifies: %v, %v", k.ID, err)
	}
	s2, err := d2.Signer()
	if err != nil || s2.ID != sks[1].ID {
		t.Fatalf("Signer after rotation = %v, %v", s2, err)
	}
}

// TestSigningKeyModeRefused: a private signing key readable by others is
// refused, like an identity.
func TestSigningKeyModeRefused(t *testing.T) {
	d, _, err := InitDir(t.TempDir(), TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := d.ActiveSigningKey()
	os.Chmod(d.KeyFile(sk.ID), 0o644)
	_, err = d.Signer()
	if err == nil || !strings.Contains(err.Error(), "has mode 0644; it must be 0600") {
		t.Fatalf("Signer with a 0644 key: %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Error("error quotes key material")
	}
	// Verification needs only the public half.
	if _, err := d.Verifier(); err != nil {
		t.Errorf("Verifier with a 0644 private key: %v", err)
	}
}

// TestPublicOnlyStore copies a store without its private files: it
// encrypts and verifies, but neither decrypts nor signs, and says so.
func TestPublicOnlyStore(t *testing.T) {
	src := filepath.Join(t.TempDir(), "full")
	d, k, err := InitDir(src, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := d.ActiveSigningKey()
	s, _ := d.Signer()
	data := []byte("manifest bytes\n")
	sig, _ := s.Sign(data, signing.ManifestNamespace)

	pub := filepath.Join(t.TempDir(), "public")
	os.Mkdir(pub, 0o700)
	for _, name := range []string{LedgerFile, k.ID + ".pub", sk.ID + ".pub"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(pub, name), b, 0o644)
	}
	p, err := OpenDir(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Recipients(); err != nil {
		t.Errorf("public store cannot encrypt: %v", err)
	}
	v, err := p.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(data, sig, signing.ManifestNamespace); err != nil {
		t.Errorf("public store cannot verify: %v", err)
	}
	if _, err := p.Signer(); err == nil || !strings.Contains(err.Error(), "cannot sign") {
		t.Errorf("Signer on a public store: %v", err)
	}
	if _, _, err := p.Identities(); err == nil || !strings.Contains(err.Error(), "cannot decrypt") {
		t.Errorf("Identities on a public store: %v", err)
	}
}

// TestVersion1LedgerGetsSigningKey: a store made before signed backups
// opens, has no signing key (and says how to add one), and gets one.
func TestVersion1LedgerGetsSigningKey(t *testing.T) {
	path := t.TempDir()
	d, k, err := InitDir(path, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := d.ActiveSigningKey()
	os.Remove(d.KeyFile(sk.ID))
	os.Remove(d.RecipientFile(sk.ID))
	old := &ledger{Version: 1, Keys: d.Keys()}
	if err := old.write(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(path, LedgerFile))
	raw = bytes.Replace(raw, []byte(`"version": 2`), []byte(`"version": 1`), 1)
	os.WriteFile(filepath.Join(path, LedgerFile), raw, 0o644)

	d, err = OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Signer(); err == nil || !strings.Contains(err.Error(), "sluice keys init "+path) {
		t.Errorf("Signer on a version 1 store: %v", err)
	}
	if _, err := d.Verifier(); err == nil || !strings.Contains(err.Error(), "sluice keys init") {
		t.Errorf("Verifier on a version 1 store: %v", err)
	}
	added, err := d.AddSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := d.Active(); a.ID != k.ID {
		t.Errorf("adding a signing key changed the active age key to %s", a.ID)
	}
	if _, err := d.AddSigningKey(); err == nil {
		t.Error("a second AddSigningKey succeeded")
	}
	if s, err := d.Signer(); err != nil || s.ID != added.ID {
		t.Errorf("Signer after AddSigningKey = %v, %v", s, err)
	}
}

// TestSshKeygenVerifies signs with the store's key and checks the
// signature with OpenSSH's ssh-keygen -Y verify and the store's
// allowed_signers export, as the README's recipe does; a changed byte fails.
func TestSshKeygenVerifies(t *testing.T) {
	keygen := testenv.LookPath(t, "ssh-keygen", "openssh-client")
	dir := t.TempDir()
	d, _, err := InitDir(filepath.Join(dir, "keys"), TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := d.Signer()
	v, _ := d.Verifier()
	data := []byte("{\"object\": \"app.dump.zst.age\"}\n")
	sig, _ := s.Sign(data, signing.ManifestNamespace)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowed := write("allowed_signers", signing.AllowedSigners(v.Keys()))
	sigFile := write("m.sig", sig)
	run := func(msg []byte, ns string) (string, error) {
		cmd := exec.Command(keygen, "-Y", "verify", "-f", allowed, "-I", signing.Principal, "-n", ns, "-s", sigFile)
		cmd.Stdin = bytes.NewReader(msg)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(data, signing.ManifestNamespace); err != nil || !strings.Contains(out, "Good \"manifest@sluice.dev\" signature for sluice") {
		t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
	}
	changed := bytes.Replace(data, []byte("app"), []byte("apq"), 1)
	if out, err := run(changed, signing.ManifestNamespace); err == nil {
		t.Fatalf("ssh-keygen accepted a changed manifest:\n%s", out)
	}
	if out, err := run(data, signing.JournalNamespace); err == nil {
		t.Fatalf("ssh-keygen accepted the signature in another namespace:\n%s", out)
	}
	// And the other way: sluice accepts what ssh-keygen -Y sign makes with
	// the store's private key, and reads the allowed_signers file back.
	sk, _ := d.ActiveSigningKey()
	msg := write("msg", data)
	cmd := exec.Command(keygen, "-Y", "sign", "-f", d.KeyFile(sk.ID), "-n", signing.ManifestNamespace, msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	theirs, _ := os.ReadFile(msg + ".sig")
	fromFile, err := OpenVerifier(allowed)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := fromFile.Verify(data, theirs, signing.ManifestNamespace); err != nil || k.ID != sk.ID {
		t.Errorf("sluice on ssh-keygen's signature: %v, %v", k.ID, err)
	}
	if _, err := fromFile.Verify(changed, theirs, signing.ManifestNamespace); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("changed bytes: err = %v, want ErrBadSignature", err)
	}
}
