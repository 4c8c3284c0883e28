package partset

import (
	"context"
	"errors"
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
// bytes and make readers refuse the new backup, nor its object or parts
// the new manifest does not list, which no listing would show.
func TestOverwriteRemovesStaleFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := blob.NewFile(dir)
	store := func(overwrite, sidecars bool, sig []byte, content string, labels ...string) {
		t.Helper()
		s := New(b, "app.age", overwrite)
		if err := s.CheckFree(ctx, labels); err != nil {
			t.Fatal(err)
		}
		var entries []Entry
		for _, label := range labels {
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
	// An older backup in one piece, then one in three parts, then one in
	// two: no file of the older ones is left unlisted.
	for _, f := range []string{"app.age", "app.age.sha256", "app.age.manifest.json"} {
		if err := b.Put(ctx, f, []byte("one piece"), blob.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	store(true, true, []byte("signature"), "old", "00-pre-data", "01-data", "02-data")
	store(true, false, nil, "new", "00-pre-data", "01-data")

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

// lostReply stands in for s3:// when the reply to a write is lost after
// the server stored it (a mock: a real server cannot be made to drop one
// reply on demand): Put of the manifest stores it, then fails.
type lostReply struct{ blob.Backend }

func (l lostReply) Put(ctx context.Context, name string, data []byte, o blob.CreateOptions) error {
	if err := l.Backend.Put(ctx, name, data, o); err != nil || !strings.HasSuffix(name, ".manifest.json") {
		return err
	}
	return errors.New("read tcp 127.0.0.1:9000: connection reset by peer")
}

// TestCommitFailureLeavesNoManifest: a manifest write that failed although
// the manifest was stored leaves nothing: no manifest that lists parts the
// failure removed.
func TestCommitFailureLeavesNoManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := New(lostReply{blob.NewFile(dir)}, "app.age", false)
	p, err := s.Store(ctx, "01-data", strings.NewReader("rows"))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Digest()
	err = s.Commit(ctx, []Entry{{Part: manifest.Part{Name: p.Name, Digest: &d}, Sidecar: true}}, []byte("manifest"), []byte("signature"))
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("commit: %v, want the lost reply's error", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed commit left %v", left)
	}
}
