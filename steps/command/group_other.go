//go:build !unix

package command

import "os/exec"

// killProcessGroup keeps exec's default: cancellation kills the process.
func killProcessGroup(cmd *exec.Cmd) {}
