package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
)

// TestSymlinkedBackupNotRewrittenInPlace plays someone who can write the
// file:// destination (storage is untrusted). While a rewrap runs (after
// sluice listed the backups: the hook of the first backup's last step
// stands for the attacker's timing) they replace the second backup, or its
// folder, with a symbolic link to a file outside the destination; once
// with a journal of their own that asks for chosen bytes at offset 0, as a
// step towards editing /etc/passwd. The in-place rewrite must not write
// through the link: the other file keeps its bytes and the backup fails.
func TestSymlinkedBackupNotRewrittenInPlace(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
	for _, tc := range []struct {
		name, want string
		// swap replaces the backup at path (object name) with a link and
		// returns the file outside the destination that the link reaches.
		swap func(t *testing.T, name, path string) (victim string)
	}{
		{"object replaced by a link to another backup", "symbolic link", func(t *testing.T, name, path string) string {
			// A copy of the backup, so that it parses and opens like it.
			victim := filepath.Join(t.TempDir(), "other-backup.age")
			copyFile(t, path, victim)
			swapForLink(t, victim, path)
			return victim
		}},
		// The forged journal is refused for its missing signature before the
		// link is reached (journal_test.go plants signed-looking ones).
		{"object replaced by a link to a system file, forged journal", "not a signed sluice journal", func(t *testing.T, name, path string) string {
			victim := filepath.Join(t.TempDir(), "passwd")
			if err := os.WriteFile(victim, passwd, 0o644); err != nil {
				t.Fatal(err)
			}
			evil := []byte("root::0:0:root:/root:/bin/bash\n")
			j, _ := json.Marshal(journal{Object: name, Apply: applyInPlace, OldHeaderLen: int64(len(evil)), NewHeader: evil})
			if err := os.WriteFile(path+journalSuffix, j, 0o644); err != nil {
				t.Fatal(err)
			}
			swapForLink(t, victim, path)
			return victim
		}},
		// The rewrap reads the manifest again through the signature gate
		// first: the folder outside has none, so nothing is written.
		{"folder replaced by a link to a folder outside", "not signed: it has no manifest", func(t *testing.T, name, path string) string {
			outside := t.TempDir()
			victim := filepath.Join(outside, filepath.Base(path))
			copyFile(t, path, victim)
			dir := filepath.Dir(path)
			if err := os.Rename(dir, dir+".moved"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, dir); err != nil {
				t.Fatal(err)
			}
			return victim
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := rotationtest.New(t, keys.TypeX25519, 2, 10<<10)
			if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
				t.Fatal(err)
			}
			r, err := New(blob.NewFile(f.Dest), f.Store, Options{})
			if err != nil {
				t.Fatal(err)
			}
			const second = "daily/app-0001.dump.age"
			path := filepath.Join(f.Dest, filepath.FromSlash(second))
			var victim string
			var before []byte
			r.hook = func(p string) error {
				if p == "sidecar" && victim == "" {
					victim = tc.swap(t, second, path)
					var err error
					if before, err = os.ReadFile(victim); err != nil {
						t.Fatal(err)
					}
				}
				return nil
			}
			res, err := r.Run(context.Background())
			if victim == "" {
				t.Fatalf("the rewrap never reached the swap: %+v, %v", res, err)
			}
			after, rerr := os.ReadFile(victim)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(after, before) {
				t.Fatalf("the rewrap wrote through the link into %s: it now starts %q", victim, after[:min(len(after), 40)])
			}
			failed := ""
			for _, f := range res.Failed {
				if strings.Contains(f, second+":") {
					failed = f
				}
			}
			// err may be the final listing's complaint that the object is
			// gone (a link is not an object); the backup itself must fail.
			if !strings.Contains(failed, tc.want) {
				t.Errorf("rewrap = %+v, %v; want %s failed with %q", res, err, second, tc.want)
			}
		})
	}
}

// swapForLink replaces path with a symbolic link to target.
func swapForLink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
