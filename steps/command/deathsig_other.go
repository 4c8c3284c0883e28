//go:build !linux

package steps

import "os/exec"

// dieWithSluice does nothing outside Linux: there is no Pdeathsig, and
// cancellation still kills the process group.
func dieWithSluice(cmd *exec.Cmd) {}
