//go:build unix

package metrics

import (
	"os"

	sys "golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on a folder (flock on the folder itself,
// so no lock file is left next to the collector's files) and returns its
// release.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = sys.Flock(int(f.Fd()), sys.LOCK_EX)
		if err != sys.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
