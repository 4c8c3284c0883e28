package streamio

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// GrowPipe asks the kernel for a pipe buffer of size bytes on p, a pipe end
// such as exec.Cmd's StdoutPipe or StdinPipe returns. A larger buffer lets
// a child process (pg_dump, pg_restore) run ahead of sluice, or sluice of
// it, instead of waiting for the other side to be scheduled every 64 KiB
// (Linux's default). Best effort: where the kernel refuses (a size above
// /proc/sys/fs/pipe-max-size for an unprivileged user) the pipe keeps its
// size.
func GrowPipe(p any, size int) {
	c, ok := p.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) })
}
