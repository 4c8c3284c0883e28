package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
)

func TestHeadAndTail(t *testing.T) {
	h, tl := NewHead(10), NewTail(10)
	for _, p := range []string{"abc", "defghij", "klmnopqrstuvwxyz", "0123", "", "456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"} {
		h.Write([]byte(p))
		tl.Write([]byte(p))
	}
	if h.String() != "abcdefghij" || tl.String() != "QRSTUVWXYZ" {
		t.Errorf("head %q, tail %q; want the first and last 10 bytes", h.String(), tl.String())
	}
	for _, n := range []int{1, 3, 9} {
		tl := NewTail(10)
		var all []byte
		for i := 0; i < 50; i++ {
			p := []byte(strings.Repeat(string(rune('a'+i%26)), n))
			all = append(all, p...)
			tl.Write(p)
			if want := string(all[max(0, len(all)-10):]); tl.String() != want {
				t.Fatalf("writes of %d: tail %q, want %q", n, tl.String(), want)
			}
		}
	}
	if z := NewTail(0); func() string { z.Write([]byte("x")); return z.String() }() != "" {
		t.Error("a Tail of 0 bytes kept something")
	}
}

func TestRunFailureKeepsOutput(t *testing.T) {
	res, err := Run(context.Background(), Spec{Name: "sh -c", Argv: []string{"sh", "-c", "echo one >&2; echo two >&2; echo out; exit 3"}, Limit: 100})
	if err == nil || !strings.Contains(err.Error(), "command sh -c exited with code 3: stderr: one\ntwo") {
		t.Fatalf("error = %v, want exit code 3 and the stderr tail", err)
	}
	if res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "one\ntwo\n" || res.Duration <= 0 {
		t.Fatalf("result = %+v", res)
	}
	res, err = Run(context.Background(), Spec{Name: "sh -c", Argv: []string{"sh", "-c", "exit 2"}, AllowExitCodes: []int{2}})
	if err != nil || res.ExitCode != 2 {
		t.Fatalf("allowed exit code: %+v, %v", res, err)
	}
	for _, prog := range []string{"/no/such/program", "no-such-program-sluice"} {
		if res, err := Run(context.Background(), Spec{Name: prog, Argv: []string{prog}}); err == nil || res.ExitCode == 0 {
			t.Errorf("missing program %s: %+v, %v", prog, res, err)
		}
	}
}

// TestRunCancelKillsProcessGroup cancels a shell whose child sleeps and
// checks that the child died too.
func TestRunCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Spec{Name: "sh -c", Argv: []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; wait"}})
		done <- err
	}()
	var pid int
	testenv.WaitFor(t, time.Minute, 10*time.Millisecond, "the shell to start its child", func() bool {
		select {
		case err := <-done:
			t.Fatalf("command ended before it was cancelled: %v", err)
		default:
		}
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return pid != 0
	})
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want it to say the command was cancelled", err)
	}
	// SIGKILL is delivered asynchronously.
	testenv.WaitFor(t, time.Minute, 10*time.Millisecond, "the child process to die with its group", func() bool { return !testenv.Alive(pid) })
}
