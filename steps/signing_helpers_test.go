package steps

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// TestMain removes the shared test key store at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if testKeysDir != "" {
		os.RemoveAll(testKeysDir)
	}
	os.Exit(code)
}

var (
	testKeysOnce sync.Once
	testKeysDir  string
	testKeysPath string
)

// testKeyStore returns a dir key store shared by the package's tests (the
// "backup" entry of testStepContext): uploads sign with it, downloads and
// verifies check against it.
func testKeyStore(testing.TB) string {
	testKeysOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-steps-keys-")
		if err != nil {
			panic(err)
		}
		testKeysDir, testKeysPath = dir, filepath.Join(dir, "store")
		if _, _, err := keys.InitDir(testKeysPath, keys.TypeX25519); err != nil {
			panic(err)
		}
	})
	return testKeysPath
}

// testKeys is the keys: section naming the shared test store.
func testKeys(t testing.TB) map[string]runner.KeyConfig {
	return map[string]runner.KeyConfig{"backup": {Name: "backup", Store: "dir", Path: testKeyStore(t)}}
}

// testTrust checks manifests against the shared test store.
func testTrust(t testing.TB) catalog.Trust {
	t.Helper()
	d, err := keys.OpenDir(testKeyStore(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return catalog.Trust{Verifier: v}
}

// signManifestFile signs the manifest of the local object path with the
// shared test store's key, as upload would have.
func signManifestFile(t testing.TB, object string) {
	t.Helper()
	data, err := os.ReadFile(manifest.ManifestName(object))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(manifest.SignatureName(object), signBytes(t, data), 0o644)
}

// signBytes signs manifest bytes with the shared test store's key.
func signBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	d, err := keys.OpenDir(testKeyStore(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Signer()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(data, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
