package command

import (
	"os/exec"
	"syscall"
)

// dieWithSluice makes cmd's whole process group end when sluice does, even
// by SIGKILL. Pdeathsig alone reaches only the direct child, and a shell
// forks its commands, so the command runs under coreutils' timeout with no
// time limit: timeout is the group's leader, gets SIGTERM when sluice dies
// (Pdeathsig), sends it to the whole group and SIGKILL two seconds later.
// It passes the command's exit status (or death by a signal) through. Call
// it after killProcessGroup. Without timeout only the direct child dies.
func dieWithSluice(cmd *exec.Cmd) {
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.Err != nil {
		return // the program was not found: Run reports it
	}
	supervisor, err := exec.LookPath("timeout")
	if err != nil {
		return
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	cmd.Args = append([]string{"timeout", "--kill-after=2", "0", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = supervisor
}
