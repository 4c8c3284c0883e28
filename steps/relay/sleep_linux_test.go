package relay

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func init() { runtime.LockOSThread() }

// TestPreciseSleeperKeepsTheThread starts a child with a parent-death
// signal (as pg.StartCluster starts a throwaway server) from the thread a
// relay writer sleeps on, then ends the writer: the child must live on.
// When the writer's goroutine ended with its thread locked, the thread
// ended too and the kernel killed the child: throwaway servers died in the
// middle of a benchmark.
//
// The main thread is never ended (Go wedges it instead), so init keeps the
// main goroutine on it and the test's goroutines run on other threads.
func TestPreciseSleeperKeepsTheThread(t *testing.T) {
	child := make(chan *exec.Cmd)
	go func() {
		sleep, done := preciseSleeper()
		defer done()
		cmd := exec.Command("sleep", "30")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Error(err)
			close(child)
			return
		}
		sleep(time.Millisecond)
		child <- cmd
	}()
	cmd, ok := <-child
	if !ok {
		return
	}
	defer cmd.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("the child died when the relay's writer ended: %v", err)
	case <-time.After(500 * time.Millisecond):
	}

}
