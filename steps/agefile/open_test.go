package agefile

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// newStore makes a dir key store and returns its keys: entry.
func newStore(t *testing.T, typ string) (runner.KeyConfig, *keys.Dir, keys.KeyInfo) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup")
	d, k, err := keys.InitDir(path, typ)
	if err != nil {
		t.Fatal(err)
	}
	return runner.KeyConfig{Name: "backup", Store: "dir", Path: path}, d, k
}

// seal encrypts plain to the store cfg's active key.
func seal(t *testing.T, cfg runner.KeyConfig, plain []byte) []byte {
	t.Helper()
	rs, err := StoreRecipients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := Seal(&buf, rs)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenRetiredKey seals to a store's key, retires it, and opens the
// file with the store's identities: the retired key opens it and is named.
func TestOpenRetiredKey(t *testing.T) {
	cfg, d, first := newStore(t, keys.TypeX25519)
	ct := seal(t, cfg, []byte("rows"))
	next, err := d.CreateKey(keys.TypeHybrid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Activate(next.ID); err != nil {
		t.Fatal(err)
	}
	ids, err := StoreIdentities(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(ct), ids, []string{first.ID})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "rows" {
		t.Fatalf("plaintext %q, %v", got, err)
	}
	if !slices.Equal(r.KeyIDs(), []string{first.ID}) {
		t.Errorf("KeyIDs = %v, want [%s]", r.KeyIDs(), first.ID)
	}
}

// TestOpenNoKey opens a file sealed to another store: the error is a
// *NoKeyError that says what the file is encrypted to, what was tried
// where, and which key it needs, and holds no secret.
func TestOpenNoKey(t *testing.T) {
	other, _, needed := newStore(t, keys.TypeHybrid)
	cfg, _, ours := newStore(t, keys.TypeX25519)
	ct := seal(t, other, []byte("secret rows"))
	ids, err := StoreIdentities(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(bytes.NewReader(ct), ids, []string{needed.ID})
	var noKey *NoKeyError
	if !errors.As(err, &noKey) {
		t.Fatalf("err = %v, want a *NoKeyError", err)
	}
	for _, want := range []string{
		"no key opens this backup: it is encrypted to 1 recipient (mlkem768x25519)",
		"tried " + ours.ID + ` (active) of key store "backup"`,
		"it needs " + needed.ID,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "AGE-SECRET-KEY") || strings.Contains(err.Error(), "secret rows") {
		t.Errorf("error leaks secret material: %v", err)
	}
}

// TestOpenNoKeyLargeHeader: a header larger than 64 KiB (50 post-quantum
// recipients) is still described in full.
func TestOpenNoKeyLargeHeader(t *testing.T) {
	var rs []age.Recipient
	for range 50 {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, id.Recipient())
	}
	var buf bytes.Buffer
	w, err := Seal(&buf, &Recipients{List: rs})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, n, err := Parse(bytes.NewReader(buf.Bytes())); err != nil || n <= 64<<10 {
		t.Fatalf("header of %d bytes (%v), want more than 64 KiB", n, err)
	}
	cfg, _, _ := newStore(t, keys.TypeX25519)
	ids, err := StoreIdentities(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(&buf, ids, nil)
	if err == nil || !strings.Contains(err.Error(), "it is encrypted to 50 recipients (mlkem768x25519, ") {
		t.Errorf("err = %v, want the 50 recipients described", err)
	}
}

// TestOpenDamaged: an empty stream, a cut one, a flipped payload byte and a
// header that does not open with the key it names are reported as such; an
// error of the stream itself comes back unchanged.
func TestOpenDamaged(t *testing.T) {
	cfg, _, k := newStore(t, keys.TypeX25519)
	ct := seal(t, cfg, bytes.Repeat([]byte("row\n"), 50<<10))
	ids, err := StoreIdentities(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	open := func(r io.Reader, expect ...string) error {
		ar, err := Open(r, ids, expect)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, ar)
		return err
	}
	if err := open(bytes.NewReader(nil)); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v, want ErrEmpty", err)
	}
	flipped := bytes.Clone(ct)
	flipped[len(ct)/2] ^= 1
	for name, in := range map[string][]byte{"cut": ct[:len(ct)/2], "flipped": flipped} {
		if err := open(bytes.NewReader(in)); err == nil || !strings.HasPrefix(err.Error(), "backup is truncated or corrupted: ") {
			t.Errorf("%s: %v, want truncated or corrupted", name, err)
		}
	}
	// Another base64 letter in the stanza body: the header still parses,
	// but the key it was encrypted to no longer unwraps it.
	stanza := bytes.Clone(ct)
	body := bytes.IndexByte(ct[bytes.IndexByte(ct, '\n')+1:], '\n') + bytes.IndexByte(ct, '\n') + 2
	stanza[body+5] = map[bool]byte{true: 'B', false: 'A'}[stanza[body+5] == 'A']
	if err := open(bytes.NewReader(stanza), k.ID); err == nil || !strings.Contains(err.Error(), "does not open with key "+k.ID+", which it was encrypted to") {
		t.Errorf("damaged stanza: %v", err)
	}
	boom := errors.New("connection reset")
	if err := open(io.MultiReader(bytes.NewReader(ct[:len(ct)/2]), errReader{boom})); err != boom {
		t.Errorf("stream error: %v, want %v unchanged", err, boom)
	}
	if err := open(io.MultiReader(bytes.NewReader(ct[:20]), errReader{boom})); err != boom {
		t.Errorf("stream error in the header: %v, want %v unchanged", err, boom)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestStoreIdentitiesMissingFolder: a store folder that does not exist is
// not created; the error names the key the backup needs and the folder.
func TestStoreIdentitiesMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone")
	_, err := StoreIdentities(runner.KeyConfig{Name: "backup", Path: path}, []string{"k-0123456789abcdef"})
	want := `key store "backup": key folder ` + path + " does not exist: the backup needs key k-0123456789abcdef"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}
}
