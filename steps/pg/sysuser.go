package pg

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// serverUser returns the credential to run initdb and postgres with: nil
// (this process's user) unless running as root, where PostgreSQL refuses to
// run and the "postgres" system user is used instead.
func serverUser(logger hclog.Logger) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, ErrNoSystemUser
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("system user postgres has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	logger.Info("running as root: the throwaway PostgreSQL server runs as system user postgres", "uid", uid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// chownAll gives paths to the server's user (when it differs from ours).
func chownAll(cred *syscall.Credential, paths ...string) error {
	if cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("handing %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

// writeOwned writes a 0600 file owned by the server's user.
func writeOwned(cred *syscall.Credential, path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// WriteFile keeps the mode of an existing file.
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return chownAll(cred, path)
}
