package agefile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// TestDescribe parses headers age wrote and summarises their stanzas as
// an error message would, with the ssh key's tag.
func TestDescribe(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	h, _ := age.GenerateHybridIdentity()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sp, _ := ssh.NewPublicKey(pub)
	sr, err := agessh.NewEd25519Recipient(sp)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rs   []age.Recipient
		want string
	}{
		{[]age.Recipient{h.Recipient()}, "1 recipient (mlkem768x25519)"},
		{[]age.Recipient{x.Recipient(), sr}, "2 recipients (X25519, ssh-ed25519 tag "},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, c.rs...)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("payload"))
		w.Close()
		hdr, _, err := Parse(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := hdr.Describe(); !strings.HasPrefix(got, c.want) {
			t.Errorf("Describe = %q, want prefix %q", got, c.want)
		}
	}
	if _, _, err := Parse(strings.NewReader("\x28\xb5\x2f\xfd...")); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse(zstd) = %v, want ErrFormat", err)
	}
}
