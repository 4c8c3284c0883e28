package streamio

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrowPipe grows the pipe of a child's stdout, and ignores what is not
// a pipe.
func TestGrowPipe(t *testing.T) {
	cmd := exec.Command("true")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	GrowPipe(out, 1<<20)
	f := out.(*os.File)
	rc, _ := f.SyscallConn()
	size := 0
	_ = rc.Control(func(fd uintptr) { size, _ = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) })
	if size != 1<<20 {
		t.Errorf("pipe size %d, want %d", size, 1<<20)
	}
	GrowPipe(strings.NewReader("not a pipe"), 1<<20)
}
