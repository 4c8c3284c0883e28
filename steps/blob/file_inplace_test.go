package blob

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenInPlaceRefusesOtherFiles checks each way a name in storage could
// carry an in-place write into another file: a symbolic link, a hard link,
// a FIFO (which would also hang an open for writing), a folder link that
// leaves the root; and that a plain object opens.
func TestOpenInPlaceRefusesOtherFiles(t *testing.T) {
	ctx := context.Background()
	root, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "a"), 0o755))
	must(os.WriteFile(filepath.Join(root, "a", "plain"), []byte("data"), 0o644))
	must(os.Symlink(victim, filepath.Join(root, "a", "symlink")))
	must(os.Link(victim, filepath.Join(root, "a", "hardlink")))
	must(syscall.Mkfifo(filepath.Join(root, "a", "fifo"), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "out")))
	b := NewFile(root)
	for name, want := range map[string]string{
		"a/symlink":  "symbolic link",
		"a/hardlink": "2 hard links",
		"a/fifo":     "", // ENXIO (no reader) or "not a regular file": refused either way
		"out/victim": "escapes",
	} {
		f, err := b.OpenInPlace(ctx, name)
		if err == nil {
			f.Close()
			t.Errorf("OpenInPlace(%s) opened it", name)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("OpenInPlace(%s) = %v, want %q", name, err, want)
		}
	}
	f, err := b.OpenInPlace(ctx, "a/plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("DA"), 0); err != nil {
		t.Fatal(err)
	}
	must(f.Close())
	if got, _ := os.ReadFile(filepath.Join(root, "a", "plain")); string(got) != "DAta" {
		t.Errorf("in-place write gave %q", got)
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep" {
		t.Errorf("victim changed to %q", got)
	}
}
