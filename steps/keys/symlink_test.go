package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSymlinkedKeyFileRefused replaces a store's key file with a symbolic
// link, as someone who can change the folder on the way to it would: to a
// world-readable copy, to a 0600 copy in a folder everyone may write (whose
// owner can swap the file between sluice's check and its read), and, for
// the identity file a decrypt step names, to a 0600 file. Each is refused,
// with a message that says it is a link. keys destroy must not overwrite
// what the link points to.
func TestSymlinkedKeyFileRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      os.FileMode
		sharedDir bool
	}{
		{"link to a world-readable copy", 0o644, false},
		{"link to a 0600 copy in a folder everyone may write", 0o600, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, k, err := InitDir(filepath.Join(t.TempDir(), "keys"), TypeX25519)
			if err != nil {
				t.Fatal(err)
			}
			elsewhere := t.TempDir()
			if tc.sharedDir {
				if err := os.Chmod(elsewhere, 0o1777); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(elsewhere, "copy.key")
			linkTo(t, d.KeyFile(k.ID), target, tc.mode)
			_, _, err = d.Identities()
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("Identities() with a linked key file: %v, want refused as a symbolic link", err)
			}
			if _, _, err := ReadIdentityFile(d.KeyFile(k.ID)); err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("ReadIdentityFile(link) = %v, want refused as a symbolic link", err)
			}
		})
	}

	t.Run("a FIFO neither hangs the read nor passes", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "identity.txt")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadIdentityFile(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadIdentityFile(fifo) = %v, want not a regular file", err)
		}
	})

	t.Run("keys destroy does not overwrite the link's target", func(t *testing.T) {
		d, first, err := InitDir(filepath.Join(t.TempDir(), "keys"), TypeX25519)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Rotate(RotateOptions{Type: TypeX25519}); err != nil {
			t.Fatal(err)
		}
		// The retired key's file now points at a file sluice must not touch.
		victim := filepath.Join(t.TempDir(), "passwd")
		keep := []byte("root:x:0:0:root:/root:/bin/bash\n")
		if err := os.WriteFile(victim, keep, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(d.KeyFile(first.ID)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, d.KeyFile(first.ID)); err != nil {
			t.Fatal(err)
		}
		_, err = d.Destroy(first.ID, DestroyOptions{Reason: "test"})
		if got, _ := os.ReadFile(victim); !bytes.Equal(got, keep) {
			t.Fatalf("destroy overwrote the link's target: %q", got)
		}
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("Destroy(linked key file) = %v, want refused as a symbolic link", err)
		}
	})
}

// linkTo moves the file at path to target with mode and leaves a symbolic
// link to it at path.
func linkTo(t *testing.T, path, target string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
