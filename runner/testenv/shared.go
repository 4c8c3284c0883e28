package testenv

import (
	"os"
	"sync"
	"testing"
)

// Shared is a service (a server, a database cluster) that the tests of a
// package share: the first Get starts it, Main stops it when they end.
// Sharing is on only under Main, called from TestMain; without it each test
// starts a service of its own.
type Shared[T comparable] struct {
	mu    sync.Mutex
	on    bool
	tried bool
	v     T
	err   error
}

// Main runs the package's tests m with sharing on, then stops the service
// with stop if one was started (even part-way) and exits with the tests'
// code.
func (s *Shared[T]) Main(m *testing.M, stop func(T)) {
	s.on = true
	code := m.Run()
	s.mu.Lock()
	var none T
	if s.v != none {
		stop(s.v)
	}
	s.mu.Unlock()
	os.Exit(code)
}

// On reports whether the tests run under Main.
func (s *Shared[T]) On() bool { return s.on }

// Get returns the service, started with start by the first call. A failed
// start is not tried again: every call returns its error.
func (s *Shared[T]) Get(start func() (T, error)) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tried {
		s.tried = true
		s.v, s.err = start()
	}
	return s.v, s.err
}
