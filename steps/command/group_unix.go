//go:build unix

package command

import (
	"os/exec"
	"syscall"
)

// killProcessGroup starts cmd in its own process group and makes context
// cancellation kill the whole group, so that a shell's children die too.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
