// Package rotationtest makes, for tests of key rotation, a dir key store
// and a destination folder of real backups encrypted to its active key,
// each with its signed manifest and sha256 sidecar as upload writes them,
// and checks afterwards that every backup is consistent on one key. It
// also finds the age command-line tools that prove the backups open
// without sluice.
package rotationtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// Fixture is a key store and a destination folder of backups encrypted to
// the store's active key, each with manifest, signature and sha256 sidecar.
type Fixture struct {
	KeyDir, Dest string
	Store        *keys.Dir
	First        keys.KeyInfo      // the store's first key, active when made
	Plain        map[string][]byte // object name -> plaintext
}

// New makes a store of key type typ and n backups of size random bytes
// each, named daily/app-NNNN.dump.age.
func New(t testing.TB, typ string, n, size int) *Fixture {
	t.Helper()
	f := &Fixture{KeyDir: filepath.Join(t.TempDir(), "keys"), Dest: t.TempDir(), Plain: map[string][]byte{}}
	var err error
	if f.Store, f.First, err = keys.InitDir(f.KeyDir, typ); err != nil {
		t.Fatal(err)
	}
	rs, _, err := f.Store.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := f.Store.Signer()
	if err != nil {
		t.Fatal(err)
	}
	b := blob.NewFile(f.Dest)
	for i := range n {
		name := fmt.Sprintf("daily/app-%04d.dump.age", i)
		plain := make([]byte, size)
		rand.Read(plain)
		var ct bytes.Buffer
		w, _ := age.Encrypt(&ct, rs...)
		w.Write(plain)
		w.Close()
		f.Plain[name] = plain
		sum := sha256.Sum256(ct.Bytes())
		d := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
		m := manifest.Build(manifest.Input{Plan: "backup", RunID: "r1", Object: filepath.Base(name), StoredBytes: int64(ct.Len()), Digest: &d,
			Upstream: []runner.Stage{{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{f.First.ID}, "recipients": []any{f.First.Recipient}}}}})
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

// Keys is a plan's keys: section whose entry "backup" is the store.
func (f *Fixture) Keys() map[string]runner.KeyConfig {
	return map[string]runner.KeyConfig{"backup": {Name: "backup", Path: f.KeyDir}}
}

// Check asserts every backup is consistent and on keyID: its signed
// manifest names keyID and the store's active signing key signed it, digest
// and sidecar agree with the object, no rewrap journal is left, and ids
// open it to its plaintext.
func (f *Fixture) Check(t *testing.T, keyID string, ids []age.Identity) {
	t.Helper()
	ctx := context.Background()
	b := blob.NewFile(f.Dest)
	d, err := keys.OpenDir(f.KeyDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := d.ActiveSigningKey()
	trust := catalog.Trust{Verifier: v}
	c, err := catalog.Read(ctx, b, trust)
	if err != nil || len(c.Problems) > 0 || len(c.Backups) != len(f.Plain) {
		t.Fatalf("catalog: %d backups, problems %v, %v", len(c.Backups), c.Problems, err)
	}
	for _, bk := range c.Backups {
		m, err := bk.LoadManifest(ctx, b, trust)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(bk.KeyIDs, []string{keyID}) {
			t.Errorf("%s: manifest key ids %v, want [%s]", bk.Name, bk.KeyIDs, keyID)
		}
		if bk.Signature.KeyID != sk.ID {
			t.Errorf("%s: manifest signed by %q, want the active signing key %s", bk.Name, bk.Signature.KeyID, sk.ID)
		}
		data, err := os.ReadFile(filepath.Join(f.Dest, bk.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if m.Digest.Hex != hex.EncodeToString(sum[:]) || m.StoredBytes != int64(len(data)) {
			t.Errorf("%s: manifest digest/size do not match the object", bk.Name)
		}
		side, _ := os.ReadFile(filepath.Join(f.Dest, bk.Name+".sha256"))
		if !bytes.HasPrefix(side, []byte(hex.EncodeToString(sum[:]))) {
			t.Errorf("%s: sidecar does not match the object", bk.Name)
		}
		if _, err := os.Stat(filepath.Join(f.Dest, bk.Name+".rewrap-journal.json")); err == nil {
			t.Errorf("%s: journal left behind", bk.Name)
		}
		r, err := age.Decrypt(bytes.NewReader(data), ids...)
		if err != nil {
			t.Fatalf("%s: %v", bk.Name, err)
		}
		var got bytes.Buffer
		if _, err := got.ReadFrom(r); err != nil || !bytes.Equal(got.Bytes(), f.Plain[bk.Name]) {
			t.Errorf("%s: plaintext differs (%v)", bk.Name, err)
		}
	}
}

// Payload returns the bytes of the age file at path after its header.
func Payload(t *testing.T, path string) []byte {
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

// Identity reads the identity of key id from the store d.
func Identity(t *testing.T, d *keys.Dir, id string) age.Identity {
	t.Helper()
	ids, _, err := keys.ReadIdentityFile(d.KeyFile(id))
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

// AgeCLI returns the age binary able to read typ keys, or skips (failing in
// CI).
func AgeCLI(t *testing.T, typ string) string {
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
	testenv.SkipUnlessCI(t, "%s is missing: run scripts/install-test-deps.sh", path)
	return ""
}

// CLIOpens reports whether the age CLI bin opens file with keyFile, and
// fails the test when it opens to other bytes than want.
func CLIOpens(t *testing.T, bin, keyFile, file string, want []byte) bool {
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
