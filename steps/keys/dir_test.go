package keys

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
)

func TestInitDir(t *testing.T) {
	for _, typ := range []string{"", TypeHybrid, TypeX25519} {
		t.Run("type="+typ, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys", "backup")
			d, k, err := InitDir(path, typ)
			if err != nil {
				t.Fatal(err)
			}
			want := typ
			if want == "" {
				want = DefaultType
			}
			if k.Type != want || k.State != StateActive || k.Activated.IsZero() || k.Created.IsZero() {
				t.Errorf("initial key = %+v, want an active %s key with times", k, want)
			}
			if !strings.HasPrefix(k.ID, "k-") || len(k.ID) != 18 || k.ID != KeyID(k.Recipient) {
				t.Errorf("key id %q is not k- and 16 hex digits of the recipient's hash", k.ID)
			}
			assertMode(t, path, 0o700)
			assertMode(t, d.KeyFile(k.ID), 0o600)

			// A reopened store sees the same single active key.
			d2, err := OpenDir(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := d2.Keys(); len(got) != 1 || got[0] != k {
				t.Errorf("reopened Keys() = %+v, want [%+v]", got, k)
			}
			if a, err := d2.Active(); err != nil || a.ID != k.ID {
				t.Errorf("Active() = %v, %v; want %s", a.ID, err, k.ID)
			}
			rs, infos, err := d2.Recipients()
			if err != nil || len(rs) != 1 || infos[0].ID != k.ID {
				t.Fatalf("Recipients() = %v, %v, %v", rs, infos, err)
			}
			ids, infos, err := d2.Identities()
			if err != nil || len(ids) != 1 || infos[0].ID != k.ID {
				t.Fatalf("Identities() = %v, %v, %v", ids, infos, err)
			}
			roundTrip(t, rs, ids)
		})
	}
}

func TestInitDirRefusesExisting(t *testing.T) {
	path := t.TempDir()
	if _, _, err := InitDir(path, TypeX25519); err != nil {
		t.Fatalf("init in an empty folder: %v", err)
	}
	_, _, err := InitDir(path, TypeX25519)
	if err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Errorf("second init: err = %v, want already initialised", err)
	}

	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("x"), 0o600)
	if _, _, err := InitDir(busy, ""); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("init in a non-empty folder: err = %v, want not empty", err)
	}
	if _, _, err := InitDir(t.TempDir(), "rsa"); err == nil || !strings.Contains(err.Error(), `unknown key type "rsa"`) {
		t.Errorf("init with a bad type: err = %v", err)
	}
}

func TestLedgerContents(t *testing.T) {
	path := t.TempDir()
	d, first, err := InitDir(path, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.CreateKey(TypeHybrid)
	if err != nil {
		t.Fatal(err)
	}
	if second.State != StatePending {
		t.Errorf("new key state = %s, want pending", second.State)
	}
	if a, _ := d.Active(); a.ID != first.ID {
		t.Errorf("a pending key must not be active yet; active = %s", a.ID)
	}
	if _, err := d.Activate(second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Activate(first.ID); err == nil {
		t.Error("activating a retired key succeeded, want an error")
	}

	var l struct {
		Version int
		Keys    []map[string]any
	}
	data, err := os.ReadFile(filepath.Join(path, LedgerFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	if l.Version != 2 || len(l.Keys) != 2 {
		t.Fatalf("ledger = %s", data)
	}
	old, cur := l.Keys[0], l.Keys[1]
	if old["id"] != first.ID || old["type"] != "x25519" || old["state"] != "retired" || old["retired"] == nil || old["activated"] == nil {
		t.Errorf("retired entry = %v", old)
	}
	if cur["id"] != second.ID || cur["type"] != "mlkem768x25519" || cur["state"] != "active" || cur["retired"] != nil {
		t.Errorf("active entry = %v", cur)
	}
	if bytes.Contains(data, []byte("AGE-SECRET-KEY")) || bytes.Contains(data, []byte("PRIVATE KEY")) {
		t.Error("ledger contains secret key material")
	}

	// Recipients: active only. Identities: active first, then retired.
	_, rinfos, err := d.Recipients()
	if err != nil || len(rinfos) != 1 || rinfos[0].ID != second.ID {
		t.Errorf("Recipients() infos = %v, %v", rinfos, err)
	}
	_, iinfos, err := d.Identities()
	if err != nil || len(iinfos) != 2 || iinfos[0].ID != second.ID || iinfos[1].ID != first.ID {
		t.Errorf("Identities() infos = %v, %v", iinfos, err)
	}
}

func TestKeyIDsHoldNoSecret(t *testing.T) {
	d, k, err := InitDir(t.TempDir(), TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	secret := readSecret(t, d.KeyFile(k.ID))
	if KeyID(secret) == k.ID {
		t.Error("key id derives from the secret key")
	}
	for _, s := range []string{k.ID, k.Recipient} {
		if strings.Contains(s, secret) || strings.Contains(strings.ToUpper(s), strings.TrimPrefix(secret, "AGE-SECRET-KEY-1")) {
			t.Errorf("%q contains the secret", s)
		}
	}
	// Key file is age's own format.
	ids, err := age.ParseIdentities(strings.NewReader(secret))
	if err != nil || ids[0].(*age.X25519Identity).Recipient().String() != k.Recipient {
		t.Errorf("identity file does not match its recipient: %v", err)
	}
}

func TestOpenStore(t *testing.T) {
	path := t.TempDir()
	if _, _, err := InitDir(path, TypeX25519); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(runner.KeyConfig{Name: "backup", Path: path}); err != nil {
		t.Errorf("Open(dir) = %v", err)
	}
	_, err := Open(runner.KeyConfig{Name: "backup", Store: "vault", Path: path})
	if err == nil || !strings.Contains(err.Error(), `unknown store type "vault"`) {
		t.Errorf("Open(vault) = %v", err)
	}
	_, err = Open(runner.KeyConfig{Name: "backup", Path: filepath.Join(path, "missing")})
	if err == nil || !strings.Contains(err.Error(), "does not exist: run sluice keys init") {
		t.Errorf("Open(missing) = %v", err)
	}
}

// roundTrip encrypts to rs and decrypts with ids.
func roundTrip(t *testing.T, rs []age.Recipient, ids []age.Identity) {
	t.Helper()
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, rs...)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "hello")
	w.Close()
	r, err := age.Decrypt(&ct, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "hello" {
		t.Errorf("round trip = %q", got)
	}
}

func readSecret(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "AGE-SECRET-KEY-") {
			return line
		}
	}
	t.Fatalf("no secret key line in %s", path)
	return ""
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}
