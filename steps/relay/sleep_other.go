//go:build !linux

package relay

import "time"

// preciseSleeper returns time.Sleep where nanosleep's precision is not
// arranged for.
func preciseSleeper() func(time.Duration) { return time.Sleep }
