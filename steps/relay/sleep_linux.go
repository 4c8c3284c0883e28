package relay

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// preciseSleeper returns a sleep accurate to tens of microseconds (Go's
// timers wake about a millisecond late here, too coarse for a half round
// trip of 250 µs) and the function that ends its use. It locks the calling
// goroutine to its thread, lowers the thread's timer slack from the
// default 50 µs and sleeps in nanosleep. done restores the slack and
// unlocks the thread rather than let it end with the goroutine: a child
// process started from that thread with a parent-death signal (a throwaway
// PostgreSQL server, Pdeathsig) would be killed when the thread ends.
func preciseSleeper() (sleep func(time.Duration), done func()) {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	sleep = func(d time.Duration) {
		ts := unix.NsecToTimespec(int64(d))
		for unix.Nanosleep(&ts, &ts) == unix.EINTR {
		}
	}
	done = func() {
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0) // 0: the thread's default
		runtime.UnlockOSThread()
	}
	return sleep, done
}
