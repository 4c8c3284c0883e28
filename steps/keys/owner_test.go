package keys

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
)

// TestKeyFolderOwnedByAnotherUserRefused plays another local user who
// prepares a key folder for root (0700 and empty, or a whole store with
// their own recipient), or owns a key file in it: whatever the mode, its
// owner can change the keys, so init, open and reading an identity refuse.
// Before, init took the empty folder over with a chmod and open accepted
// the store.
func TestKeyFolderOwnedByAnotherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipUnlessCI(t, "needs root to give a folder to another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	empty := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(empty, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(empty, 0o777)
	if err := os.Chown(empty, uid, gid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := InitDir(empty, TypeX25519); err == nil || !strings.Contains(err.Error(), "owned by uid") {
		t.Errorf("init of an empty folder another user owns: %v", err)
	}

	store := filepath.Join(t.TempDir(), "store")
	d, k, err := InitDir(store, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := d.KeyFile(k.ID)
	if err := os.Chown(keyFile, uid, gid); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateFile(keyFile); err == nil || !strings.Contains(err.Error(), "owned by uid") {
		t.Errorf("identity file another user owns: %v", err)
	}
	if err := os.Chown(store, uid, gid); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(store); err == nil || !strings.Contains(err.Error(), "owned by uid") {
		t.Errorf("open of a store another user owns: %v", err)
	}
}

// TestLockRefusesLink: a .lock planted as a symbolic link to another file
// is not followed (taking the lock writes the holder's line into it).
func TestLockRefusesLink(t *testing.T) {
	d, _, err := InitDir(filepath.Join(t.TempDir(), "keys"), TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(d.Path(), LockFile)
	os.Remove(lock)
	if err := os.Symlink(victim, lock); err != nil {
		t.Fatal(err)
	}
	if unlock, err := d.Lock(t.Context(), 0); err == nil {
		unlock()
		t.Error("the lock followed a symbolic link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the link's target now holds %q", b)
	}
}
