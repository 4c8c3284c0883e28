package keys

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Roles a copy of a store can serve (see Export).
const (
	// RoleBackup makes and signs backups: the active recipient and the
	// active private signing key; no identity, so it cannot decrypt.
	RoleBackup = "backup"
	// RoleVerify checks signatures (and digests): verification keys only;
	// it can neither decrypt nor sign.
	RoleVerify = "verify"
	// RoleRestore opens and checks backups: every identity and
	// verification key; it cannot sign.
	RoleRestore = "restore"
)

// Roles lists the roles Export knows.
var Roles = []string{RoleBackup, RoleVerify, RoleRestore}

// Export copies to dest (a new or empty folder, made 0700) the ledger and
// the key files a host in role needs, and nothing else: every public file,
// plus, for RoleBackup, the active private signing key and, for
// RoleRestore, the identities. It returns the names of the files copied.
func (d *Dir) Export(dest, role string) ([]string, error) {
	want := map[string]bool{LedgerFile: true}
	for _, k := range d.Keys() {
		if k.State == StateDestroyed {
			continue
		}
		want[filepath.Base(d.RecipientFile(k.ID))] = true
		if role == RoleRestore {
			want[filepath.Base(d.KeyFile(k.ID))] = true
		}
	}
	for _, k := range d.SigningKeys() {
		want[filepath.Base(d.RecipientFile(k.ID))] = true
		if role == RoleBackup && k.State == StateActive {
			want[filepath.Base(d.KeyFile(k.ID))] = true
		}
	}
	switch role {
	case RoleBackup, RoleVerify, RoleRestore:
	default:
		return nil, fmt.Errorf("unknown role %q: use backup, verify or restore", role)
	}
	if err := prepareDir(dest); err != nil {
		return nil, err
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		src := filepath.Join(d.path, n)
		var data []byte
		var err error
		mode := os.FileMode(0o644)
		if filepath.Ext(n) == ".key" {
			data, err = ReadPrivateFile(src)
			mode = 0o600
		} else {
			data, err = os.ReadFile(src)
		}
		if err != nil {
			return nil, fmt.Errorf("exporting %s: %w", n, err)
		}
		if err := writeFileAtomic(filepath.Join(dest, n), data, mode); err != nil {
			return nil, fmt.Errorf("exporting %s: %w", n, err)
		}
	}
	return names, nil
}
