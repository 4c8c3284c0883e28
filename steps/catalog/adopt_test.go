package catalog_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// TestAdoptRefusesPlantedPlaintext plays someone who can write the backup
// folder but holds no key: they plant an unsigned "backup" whose manifest
// records no encryption (a plain SQL dump that drops tables), dated long
// before the store could sign, the file's time set to match. backups sign
// verified it "at content level" with no key and signed it, and a restore
// would then have piped it into psql. A backup no key of the store opens
// is never adopted now.
func TestAdoptRefusesPlantedPlaintext(t *testing.T) {
	dir := t.TempDir()
	b := blob.NewFile(dir)
	store := filepath.Join(t.TempDir(), "keys")
	d, _, err := keys.InitDir(store, keys.TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("DROP TABLE customers;\n")
	sum := sha256.Sum256(plain)
	dg := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	m := manifest.Build(manifest.Input{Plan: "backup", RunID: "r-2020", Created: old, Object: "app-2020.sql", StoredBytes: int64(len(plain)), Digest: &dg,
		Upstream: []runner.Stage{{ID: "dump", Type: "dump", Outputs: runner.Outputs{"bytes": int64(len(plain)), "database": "app", "format": "plain"}}}})
	js, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"app-2020.sql": plain, manifest.ManifestName("app-2020.sql"): js} {
		if err := b.Put(context.Background(), name, data, blob.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	res, err := catalog.AdoptUnsigned(context.Background(), b, "all", catalog.AdoptOptions{Store: d})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Signed || !strings.Contains(res[0].Error, "no key of the store opened it") {
		t.Fatalf("adopting a planted plaintext backup: %+v", res)
	}
	if _, err := b.Stat(context.Background(), manifest.SignatureName("app-2020.sql")); err == nil {
		t.Error("a signature was written")
	}
}
