//go:build !linux

package command

import "os/exec"

// dieWithSluice does nothing outside Linux: there is no Pdeathsig, and
// cancellation still kills the process group.
func dieWithSluice(cmd *exec.Cmd) {}
