package partset

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// TestOverwriteRemovesStaleFiles: a backup in parts stored over an older
// one of the same name, without checksum sidecars and unsigned, leaves no
// sidecar or signature of the older one behind, which would describe other
// bytes and make readers refuse the new backup.
func TestOverwriteRemovesStaleFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := blob.NewFile(dir)
	store := func(overwrite, sidecars bool, sig []byte, content string) {
		t.Helper()
		s := New(b, "app.age", overwrite)
		if err := s.CheckFree(ctx, []string{"00-pre-data", "01-data"}); err != nil {
			t.Fatal(err)
		}
		var entries []Entry
		for _, label := range []string{"00-pre-data", "01-data"} {
			p, err := s.Store(ctx, label, strings.NewReader(content+label))
			if err != nil {
				t.Fatal(err)
			}
			d := p.Digest()
			entries = append(entries, Entry{Part: manifest.Part{Name: p.Name, Digest: &d}, Sidecar: sidecars})
		}
		if err := s.Commit(ctx, entries, []byte(content+" manifest"), sig); err != nil {
			t.Fatal(err)
		}
	}
	store(false, true, []byte("signature"), "old")
	store(true, false, nil, "new")

	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"app.age.manifest.json", manifest.PartName("app.age", "00-pre-data"), manifest.PartName("app.age", "01-data")}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("after the overwrite: %q, want %q", names, want)
	}
}
