//go:build !linux

package relay

import "time"

// preciseSleeper returns time.Sleep where nanosleep's precision is not
// arranged for.
func preciseSleeper() (sleep func(time.Duration), done func()) { return time.Sleep, func() {} }
