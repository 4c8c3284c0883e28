package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/keys"
)

func TestDecryptWrongKey(t *testing.T) {
	scA, _, _ := newAgeTestStore(t, "old", keys.TypeHybrid)
	scB, dB, kB := newAgeTestStore(t, "backup", keys.TypeHybrid)
	ct, out, err := xformBytes(&Encrypt{Key: "old"}, scA, []byte("secret rows"))
	if err != nil {
		t.Fatal(err)
	}
	needed := out["key_ids"].([]any)[0].(string)

	_, _, err = xformBytes(&Decrypt{Key: "backup"}, scB, ct)
	if err == nil {
		t.Fatal("decrypt with the wrong store succeeded")
	}
	for _, want := range []string{
		"no key opens this backup",
		"encrypted to 1 recipient (mlkem768x25519)",
		fmt.Sprintf(`tried %s (active) of key store "backup"`, kB.ID),
		"check the key_ids in the backup's manifest",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "AGE-SECRET-KEY") || strings.Contains(err.Error(), "secret rows") {
		t.Errorf("error leaks secret material: %v", err)
	}

	_, _, err = xformBytes(&Decrypt{Key: "backup", ExpectedKeyIDs: []string{needed}}, scB, ct)
	if err == nil || !strings.Contains(err.Error(), "it needs "+needed) {
		t.Errorf("with expected_key_ids: %v, want it to name %s", err, needed)
	}

	// The store's own keys, active or retired, do open it.
	next, err := dB.CreateKey(keys.TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	ct2, _, err := xformBytes(&Encrypt{Key: "backup"}, scB, []byte("rows"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dB.Activate(next.ID); err != nil {
		t.Fatal(err)
	}
	got, dout, err := xformBytes(&Decrypt{Key: "backup"}, scB, ct2)
	if err != nil || string(got) != "rows" || fmt.Sprint(dout["key_ids"]) != fmt.Sprint([]any{kB.ID}) {
		t.Errorf("decrypt with a retired key = %q, %v, %v", got, dout, err)
	}
}

func TestDecryptTruncatedOrTampered(t *testing.T) {
	sc, _, _ := newAgeTestStore(t, "backup", keys.TypeX25519)
	plain := sqlLikeText(200 << 10) // several 64 KiB chunks
	ct, _, err := xformBytes(&Encrypt{Key: "backup"}, sc, plain)
	if err != nil {
		t.Fatal(err)
	}
	headerEnd := bytes.Index(ct, []byte("\n---")) + 1
	flip := func(at int) []byte {
		c := bytes.Clone(ct)
		c[at] ^= 0x01
		return c
	}
	cases := map[string][]byte{
		"cut in header":        ct[:headerEnd-10],
		"cut in payload":       ct[:len(ct)/2],
		"last byte missing":    ct[:len(ct)-1],
		"whole chunk missing":  ct[:len(ct)-(len(plain)%(64<<10))-16],
		"flipped header MAC":   flip(headerEnd + 10),
		"flipped payload byte": flip(len(ct) / 2),
		"flipped last byte":    flip(len(ct) - 1),
		"trailing garbage":     append(bytes.Clone(ct), 'x'),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := xformBytes(&Decrypt{Key: "backup"}, sc, in)
			if err == nil || !strings.HasPrefix(err.Error(), "backup is truncated or corrupted: ") {
				t.Errorf("err = %v, want backup is truncated or corrupted", err)
			}
		})
	}
	_, _, err = xformBytes(&Decrypt{Key: "backup"}, sc, nil)
	if err == nil || !strings.Contains(err.Error(), "input is empty") {
		t.Errorf("empty input: %v", err)
	}
}

// failingReader yields data and then fails, as a pipe closed by a failed
// upstream step does.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestDecryptUpstreamFailure(t *testing.T) {
	sc, _, _ := newAgeTestStore(t, "backup", keys.TypeX25519)
	ct, _, err := xformBytes(&Encrypt{Key: "backup"}, sc, sqlLikeText(100<<10))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("step \"download\": connection reset")
	_, err = (&Decrypt{Key: "backup"}).Transform(context.Background(), sc, &failingReader{ct[:len(ct)/2], boom}, io.Discard)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "reading input: ") {
		t.Errorf("err = %v, want reading input: %v", err, boom)
	}
}

func TestDecryptIdentityFileMode(t *testing.T) {
	dir := t.TempDir()
	path := writeKeyFile(t, dir, "id.txt", "AGE-SECRET-KEY-1QQQ")
	os.Chmod(path, 0o644)
	_, _, err := xformBytes(&Decrypt{Identities: []string{path}}, &runner.StepContext{}, []byte("x"))
	want := fmt.Sprintf("key file %s has mode 0644; it must be 0600: run chmod 600 %s", path, path)
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestAgeCLIInterop proves that backups open with the standard age tool and
// that files age writes open with sluice. Debian's age 1.1 knows only X25519
// keys, so the store uses those.
func TestAgeCLIInterop(t *testing.T) {
	ageBin := testenv.LookPath(t, "age", "install it with apt-get install -y age")
	keygen := testenv.LookPath(t, "age-keygen", "install it with apt-get install -y age")
	sc, d, k := newAgeTestStore(t, "backup", keys.TypeX25519)
	plain := sqlLikeText(300 << 10)
	dir := t.TempDir()

	ct, _, err := xformBytes(&Encrypt{Key: "backup"}, sc, plain)
	if err != nil {
		t.Fatal(err)
	}
	got := runCLI(t, ct, ageBin, "-d", "-i", d.KeyFile(k.ID))
	if !bytes.Equal(got, plain) {
		t.Fatal("age -d output differs from the plaintext")
	}

	ct = runCLI(t, plain, ageBin, "-R", d.RecipientFile(k.ID))
	if got, _, err := xformBytes(&Decrypt{Key: "backup"}, sc, ct); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt of age's output: %v", err)
	}

	idFile := filepath.Join(dir, "key.txt")
	runCLI(t, nil, keygen, "-o", idFile)
	os.Chmod(idFile, 0o600)
	pub := strings.TrimSpace(string(runCLI(t, nil, keygen, "-y", idFile)))
	ct, _, err = xformBytes(&Encrypt{Recipients: []string{pub}}, sc, plain)
	if err != nil {
		t.Fatal(err)
	}
	if got := runCLI(t, ct, ageBin, "-d", "-i", idFile); !bytes.Equal(got, plain) {
		t.Fatal("age -d of an encryption to a listed recipient differs")
	}
	if got, _, err := xformBytes(&Decrypt{Identities: []string{idFile}}, sc, ct); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt with an age-keygen identity file: %v", err)
	}
}

// runCLI runs a command with stdin and returns its stdout.
func runCLI(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}
