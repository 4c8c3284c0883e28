package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// rotFixture is a key store and a destination folder of backups encrypted
// to the store's active key, each with manifest and sha256 sidecar.
type rotFixture struct {
	keyDir, dest string
	store        *keys.Dir
	first        keys.KeyInfo
	plain        map[string][]byte
}

func newRotFixture(t testing.TB, typ string, n, size int) *rotFixture {
	t.Helper()
	f := &rotFixture{keyDir: filepath.Join(t.TempDir(), "keys"), dest: t.TempDir(), plain: map[string][]byte{}}
	var err error
	if f.store, f.first, err = keys.InitDir(f.keyDir, typ); err != nil {
		t.Fatal(err)
	}
	rs, _, err := f.store.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := f.store.Signer()
	if err != nil {
		t.Fatal(err)
	}
	b := blob.NewFile(f.dest)
	for i := range n {
		name := fmt.Sprintf("daily/app-%04d.dump.age", i)
		plain := make([]byte, size)
		rand.Read(plain)
		var ct bytes.Buffer
		w, _ := age.Encrypt(&ct, rs...)
		w.Write(plain)
		w.Close()
		f.plain[name] = plain
		sum := sha256.Sum256(ct.Bytes())
		d := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
		m := manifest.Build(manifest.Input{Plan: "backup", RunID: "r1", Object: filepath.Base(name), StoredBytes: int64(ct.Len()), Digest: &d,
			Upstream: []runner.Stage{{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{f.first.ID}, "recipients": []any{f.first.Recipient}}}}})
		data, _ := m.Marshal()
		sig, err := signer.Sign(data, signing.ManifestNamespace)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for obj, body := range map[string][]byte{name: ct.Bytes(), manifest.ManifestName(name): data, manifest.SignatureName(name): sig, manifest.SidecarName(name, manifest.SHA256): manifest.Sidecar(d, name)} {
			if err := b.Put(ctx, obj, body, blob.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

func (f *rotFixture) sc() *runner.StepContext {
	return &runner.StepContext{Keys: map[string]runner.KeyConfig{"backup": {Name: "backup", Path: f.keyDir}}}
}

// checkBackups asserts every backup is consistent and on keyID: manifest key
// ids, digest and sidecar agree with the object, no journal is left, and
// the plaintext is intact.
func (f *rotFixture) checkBackups(t *testing.T, keyID string, ids []age.Identity) {
	t.Helper()
	ctx := context.Background()
	b := blob.NewFile(f.dest)
	d, err := keys.OpenDir(f.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := d.ActiveSigningKey()
	backups, err := listBackups(ctx, b, catalog.Trust{Verifier: v})
	if err != nil || len(backups) != len(f.plain) {
		t.Fatalf("listBackups = %d, %v", len(backups), err)
	}
	for _, bk := range backups {
		if !slices.Equal(bk.KeyIDs, []string{keyID}) {
			t.Errorf("%s: manifest key ids %v, want [%s]", bk.Object, bk.KeyIDs, keyID)
		}
		if bk.Signature.KeyID != sk.ID {
			t.Errorf("%s: manifest signed by %q, want the active signing key %s", bk.Object, bk.Signature.KeyID, sk.ID)
		}
		data, err := os.ReadFile(filepath.Join(f.dest, bk.Object))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if bk.Manifest.Digest.Hex != hex.EncodeToString(sum[:]) || bk.Manifest.StoredBytes != int64(len(data)) {
			t.Errorf("%s: manifest digest/size do not match the object", bk.Object)
		}
		side, _ := os.ReadFile(filepath.Join(f.dest, bk.Object+".sha256"))
		if !bytes.HasPrefix(side, []byte(hex.EncodeToString(sum[:]))) {
			t.Errorf("%s: sidecar does not match the object", bk.Object)
		}
		if _, err := os.Stat(filepath.Join(f.dest, bk.Object+journalSuffix)); err == nil {
			t.Errorf("%s: journal left behind", bk.Object)
		}
		r, err := age.Decrypt(bytes.NewReader(data), ids...)
		if err != nil {
			t.Fatalf("%s: %v", bk.Object, err)
		}
		var got bytes.Buffer
		if _, err := got.ReadFrom(r); err != nil || !bytes.Equal(got.Bytes(), f.plain[bk.Object]) {
			t.Errorf("%s: plaintext differs (%v)", bk.Object, err)
		}
	}
}

func payloadOf(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := agefile.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return data[n:]
}

func identity(t *testing.T, d *keys.Dir, id string) age.Identity {
	t.Helper()
	ids, _, err := keys.ReadIdentityFile(d.KeyFile(id))
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

// ageCLI returns the age binary able to read typ keys, or skips (failing in
// CI).
func ageCLI(t *testing.T, typ string) string {
	t.Helper()
	path := "/usr/local/lib/sluice-tools/bin/age" // scripts/install-age13.sh
	if typ == keys.TypeX25519 {
		if p, err := exec.LookPath("age"); err == nil {
			return p
		}
		path = "age (Debian package)"
	} else if _, err := os.Stat(path); err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: scripts/install-test-deps.sh installs it", path)
	}
	t.Skipf("%s is missing: run scripts/install-test-deps.sh", path)
	return ""
}

// cliOpens reports whether the age CLI opens file with keyFile.
func cliOpens(t *testing.T, bin, keyFile, file string, want []byte) bool {
	t.Helper()
	out, err := exec.Command(bin, "-d", "-i", keyFile, file).Output()
	if err != nil {
		return false
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s -d %s: plaintext differs", bin, file)
	}
	return true
}

var errCrash = errors.New("simulated crash")
