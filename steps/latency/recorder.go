package latency

import "time"

// Recorder collects raw latency samples of one client. It is not safe for
// concurrent use: give each client its own and Merge them.
type Recorder struct {
	Samples []time.Duration
}

// NewRecorder returns a recorder with room for n samples, so that recording
// does not allocate while a benchmark runs.
func NewRecorder(n int) *Recorder {
	return &Recorder{Samples: make([]time.Duration, 0, n)}
}

// Time runs fn and records how long it took, unless it failed.
func (r *Recorder) Time(fn func() error) error {
	start := time.Now()
	err := fn()
	d := time.Since(start)
	if err == nil {
		r.Samples = append(r.Samples, d)
	}
	return err
}
