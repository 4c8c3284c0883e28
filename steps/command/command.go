// Package command runs the commands of the exec step: in a process group of
// their own that dies with its context (and, on Linux, with sluice), with
// bounded output, and with values handed to a shell script as quoted
// environment variables (ShellScript), never as shell code.
package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Spec is a command to run.
type Spec struct {
	// Name names the command in errors, e.g. "pg_isready" or "sh -c".
	Name string
	// Argv is the program and its arguments.
	Argv []string
	// Env holds NAME=value entries added to sluice's own environment, in
	// order (a later entry wins).
	Env []string
	// Dir is the working directory; "" is sluice's.
	Dir string
	// Limit is how many bytes of stdout (the first) and of stderr (the
	// last) Result keeps.
	Limit int
	// AllowExitCodes are non-zero exit codes that are no error.
	AllowExitCodes []int
}

// Result is what a finished command left.
type Result struct {
	ExitCode int // -1 when it did not start or was killed by a signal
	Stdout   string
	Stderr   string
	Duration time.Duration
}

// Run starts the command in its own process group, killed as a whole when
// ctx ends (and on Linux when sluice dies), and waits for it. The Result
// is filled whatever the error: an exit code not allowed, a death by a
// signal, a program that could not start, or ctx ending.
func Run(ctx context.Context, s Spec) (Result, error) {
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	stdout, stderr := NewHead(s.Limit), NewTail(s.Limit)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killProcessGroup(cmd)
	dieWithSluice(cmd)
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	res := Result{ExitCode: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	if ctx.Err() != nil {
		return res, fmt.Errorf("command %s: stopped: %w", s.Name, ctx.Err())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exitErr) && exitErr.Exited():
		code := exitErr.ExitCode()
		if slices.Contains(s.AllowExitCodes, code) {
			return res, nil
		}
		return res, fmt.Errorf("command %s exited with code %d%s", s.Name, code, stderrTail(res.Stderr))
	case errors.As(err, &exitErr):
		return res, fmt.Errorf("command %s: %v%s", s.Name, exitErr, stderrTail(res.Stderr))
	default:
		return res, fmt.Errorf("command %s: %w", s.Name, err)
	}
}

// stderrTail renders the last lines of stderr for an error message.
func stderrTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return " (no output on stderr)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	tail := strings.Join(lines, "\n")
	if len(tail) > 2048 {
		tail = "..." + tail[len(tail)-2048:]
	}
	return ": stderr: " + tail
}
