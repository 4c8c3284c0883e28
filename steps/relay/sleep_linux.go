package relay

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// preciseSleeper returns a sleep accurate to tens of microseconds: Go's
// timers wake about a millisecond late here, too coarse for a half round
// trip of 250 µs. It locks the calling goroutine to its thread (which ends
// with the goroutine), lowers the thread's timer slack from the default
// 50 µs and sleeps in nanosleep.
func preciseSleeper() func(time.Duration) {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	return func(d time.Duration) {
		ts := unix.NsecToTimespec(int64(d))
		for unix.Nanosleep(&ts, &ts) == unix.EINTR {
		}
	}
}
