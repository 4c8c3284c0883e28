package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func TestKeyFileModeRefused(t *testing.T) {
	d, k, err := InitDir(t.TempDir(), TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	path := d.KeyFile(k.ID)
	secret := readSecret(t, path)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("key file %s has mode 0644; it must be 0600: run chmod 600 %s", path, path)
	_, _, err = d.Identities()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Identities() with a 0644 key file: err = %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), secret) {
		t.Error("error contains the secret key")
	}
	// Encryption needs only the public side, so it still works.
	if _, _, err := d.Recipients(); err != nil {
		t.Errorf("Recipients() with a 0644 key file: %v", err)
	}
	// 0400 is narrower than 0600 and fine.
	os.Chmod(path, 0o400)
	if _, _, err := d.Identities(); err != nil {
		t.Errorf("Identities() with a 0400 key file: %v", err)
	}
}

func TestKeyFolderModeRefused(t *testing.T) {
	path := t.TempDir()
	if _, _, err := InitDir(path, TypeX25519); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o700)
	os.Chmod(path, 0o755)
	want := fmt.Sprintf("key folder %s has mode 0755; it must be 0700: run chmod 700 %s", path, path)
	if _, err := OpenDir(path); err == nil || err.Error() != want {
		t.Errorf("OpenDir(0755) = %v, want %q", err, want)
	}
}

func TestIdentityFileMismatch(t *testing.T) {
	d, k, err := InitDir(t.TempDir(), TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	if err := os.WriteFile(d.KeyFile(k.ID), []byte(other.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Identities()
	if err == nil || !strings.Contains(err.Error(), "changed by hand") {
		t.Fatalf("Identities() with a swapped key file: %v", err)
	}
	if strings.Contains(err.Error(), other.String()) {
		t.Error("error contains the secret key")
	}
}

func TestReadIdentityFile(t *testing.T) {
	dir := t.TempDir()
	x, _ := age.GenerateX25519Identity()
	h, _ := age.GenerateHybridIdentity()
	multi := filepath.Join(dir, "multi.txt")
	os.WriteFile(multi, []byte("# comment\n"+x.String()+"\n\n"+h.String()+"\n"), 0o600)
	ids, infos, err := ReadIdentityFile(multi)
	if err != nil || len(ids) != 2 {
		t.Fatalf("ReadIdentityFile = %v, %v", ids, err)
	}
	if infos[0].ID != KeyID(x.Recipient().String()) || infos[0].Type != TypeX25519 ||
		infos[1].ID != KeyID(h.Recipient().String()) || infos[1].Type != TypeHybrid {
		t.Errorf("infos = %+v", infos)
	}

	garbage := filepath.Join(dir, "garbage.txt")
	os.WriteFile(garbage, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600)
	if _, _, err := ReadIdentityFile(garbage); err == nil || strings.Contains(err.Error(), "NOTAKEY") {
		t.Errorf("garbage identity: err = %v, want an error without the line", err)
	}
}

func TestSSHKeys(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
	sshPub, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " alice@example"

	r, canonical, id, err := ParseRecipient(line)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(canonical, "alice") {
		t.Errorf("canonical recipient %q keeps the comment", canonical)
	}
	ids, infos, err := ReadIdentityFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].ID != id || infos[0].Type != "ssh-ed25519" {
		t.Errorf("ssh identity info = %+v, want id %s", infos[0], id)
	}
	roundTrip(t, []age.Recipient{r}, ids)

	enc, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	os.WriteFile(path, pem.EncodeToMemory(enc), 0o600)
	if _, _, err := ReadIdentityFile(path); err == nil || !strings.Contains(err.Error(), "passphrase-protected") {
		t.Errorf("encrypted ssh key: err = %v", err)
	}
}

func TestParseRecipient(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	h, _ := age.GenerateHybridIdentity()
	for _, s := range []string{x.Recipient().String(), " " + h.Recipient().String() + "\n"} {
		if _, c, id, err := ParseRecipient(s); err != nil || id != KeyID(strings.TrimSpace(s)) || c != strings.TrimSpace(s) {
			t.Errorf("ParseRecipient(%q) = %q, %q, %v", s, c, id, err)
		}
	}
	for _, s := range []string{"", "age1xyz", "ssh-ed25519 AAAA", "pgp:abc"} {
		if _, _, _, err := ParseRecipient(s); err == nil {
			t.Errorf("ParseRecipient(%q) succeeded, want an error", s)
		}
	}
	// An identity given where a recipient belongs: the error (printed by
	// plan validation and in logs) quotes none of it.
	for _, s := range []string{x.String(), "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n"} {
		_, _, _, err := ParseRecipient(s)
		if err == nil || !strings.Contains(err.Error(), "private key") || strings.Contains(err.Error(), s[15:25]) {
			t.Errorf("ParseRecipient(private key) = %v; want an error that names it private and quotes none of it", err)
		}
	}
}
