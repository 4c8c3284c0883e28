package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// interruptGrace is how long a run may take to stop and clean up after
// SIGINT or SIGTERM before sluice exits without waiting for it.
const interruptGrace = 5 * time.Second

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM. A second signal, or the run still going interruptGrace after
// the first, ends the process at once with the interrupted exit code: a
// step stuck in a system call cannot keep sluice alive. stop releases the
// signals; call it when the run returned.
func (a *app) interruptContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		cancel()
		timer := time.NewTimer(interruptGrace)
		defer timer.Stop()
		select {
		case <-sigs:
			fmt.Fprintln(a.stderr, "sluice: error: interrupted twice: exiting without waiting for the run to clean up")
		case <-timer.C:
			fmt.Fprintf(a.stderr, "sluice: error: interrupted, and the run did not stop within %s: exiting without waiting for it to clean up\n", interruptGrace)
		case <-done:
			return
		}
		os.Exit(exitInterrupted)
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}
