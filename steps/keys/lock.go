package keys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"time"
)

// LockFile is the name of a dir store's lock file. Its content is the
// holder's actor and process id, for the message a waiting process prints.
const LockFile = ".lock"

// ErrLocked is matched by the error of Lock when another process holds the
// store's lock and waiting was not allowed or timed out.
var ErrLocked = errors.New("key store is locked by another rotation")

// Lock takes the store's exclusive lock (flock(2) on LockFile; the kernel
// releases it if the holder dies). With wait > 0 it retries until wait has
// passed or ctx ends; with wait == 0 it fails at once. The returned function
// releases the lock. After taking it, the ledger is read again, so that the
// holder sees what a previous holder changed.
func (d *Dir) Lock(ctx context.Context, wait time.Duration) (unlock func(), err error) {
	path := filepath.Join(d.path, LockFile)
	// Not through a link: the holder's line is written into this file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock of key folder %s: %w", d.path, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking key folder %s: %w", d.path, err)
		}
		if wait <= 0 || time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("key folder %s: %w (holder: %s): wait for it to finish or raise lock_wait", d.path, ErrLocked, describeHolder(holder))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock of key folder %s: %w", d.path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%s pid %d since %s\n", Actor(), os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	unlock = func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	l, err := readLedger(d.path)
	if err != nil {
		unlock()
		return nil, err
	}
	d.mu.Lock()
	d.ledger = l
	d.mu.Unlock()
	return unlock, nil
}

func describeHolder(b []byte) string {
	s := string(b)
	if len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "unknown"
	}
	return short(s)
}

// Actor names who changes a store: user@host.
func Actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if v := os.Getenv("USER"); v != "" {
		name = v
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}
