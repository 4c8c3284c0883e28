package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newSigner(t *testing.T, id string) *Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(id, ss)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerify checks each refusal a reader can meet, and the one acceptance.
func TestVerify(t *testing.T) {
	ours, theirs := newSigner(t, "s-ours"), newSigner(t, "s-theirs")
	retired := newSigner(t, "s-retired")
	v := NewVerifier("key store k", []Key{ours.Key(), retired.Key()})
	data := []byte("{\"object\": \"a.age\"}\n")
	good, _ := ours.Sign(data, ManifestNamespace)
	old, _ := retired.Sign(data, ManifestNamespace)
	foreign, _ := theirs.Sign(data, ManifestNamespace)
	journal, _ := ours.Sign(data, JournalNamespace)
	for _, c := range []struct {
		name string
		data []byte
		sig  []byte
		want error
		id   string
	}{
		{"ours", data, good, nil, "s-ours"},
		{"retired key still verifies", data, old, nil, "s-retired"},
		{"changed byte", append([]byte{' '}, data...), good, ErrBadSignature, ""},
		{"another key", data, foreign, ErrUnknownKey, ""},
		{"another namespace", data, journal, ErrBadSignature, ""},
		{"not armored", data, []byte("hello"), ErrMalformed, ""},
		{"empty", data, nil, ErrMalformed, ""},
		{"huge", data, make([]byte, maxSignature+1), ErrMalformed, ""},
	} {
		k, err := v.Verify(c.data, c.sig, ManifestNamespace)
		if !errors.Is(err, c.want) || k.ID != c.id {
			t.Errorf("%s: key %q, err %v; want %q, %v", c.name, k.ID, err, c.id, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE") {
			t.Errorf("%s: error quotes key material", c.name)
		}
	}
	if _, err := (*Verifier)(nil).Verify(data, good, ManifestNamespace); !errors.Is(err, ErrNoKeys) {
		t.Errorf("nil verifier: %v", err)
	}
}

// TestAllowedSignersRoundTrip: the file sluice writes reads back to the same
// keys and ids; lines for other principals or namespaces are ignored.
func TestAllowedSignersRoundTrip(t *testing.T) {
	a, b := newSigner(t, "s-a"), newSigner(t, "s-b")
	file := AllowedSigners([]Key{a.Key(), b.Key()})
	other := newSigner(t, "s-other")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.Key().Public)))
	file = append(file, []byte("alice "+line+"\n"+Principal+` namespaces="git" `+line+"\n")...)
	ks, err := ParseAllowedSigners(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].ID != "s-a" || ks[1].ID != "s-b" || ks[0].Fingerprint() != a.Key().Fingerprint() {
		t.Fatalf("parsed %+v", ks)
	}
	if _, err := ParseAllowedSigners([]byte("sluice ssh-ed25519 not-base64\n")); err == nil {
		t.Error("a broken line parsed")
	}
}
