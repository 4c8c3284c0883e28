// Package relay simulates a network link in front of a local server: a
// TCP relay on 127.0.0.1 that holds every byte for half a round trip in
// each direction before passing it on. Loopback has no latency worth the
// name, so a benchmark over it overstates what per-message costs such as
// TLS mean on a real network; tc netem would need a kernel module that
// these machines lack, so the delay is added in user space.
package relay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// Relay forwards connections to a target with a fixed delay.
type Relay struct {
	ln     net.Listener
	target string
	delay  time.Duration // one way
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// to target (host:port), adding rtt to every round trip: rtt/2 on the way
// there and rtt/2 on the way back. Bytes are never forwarded early; a
// loaded machine may forward them late (the sleep's wake-up).
func Start(target string, rtt time.Duration) (*Relay, error) {
	if rtt < 0 {
		return nil, fmt.Errorf("relay: round trip %s is negative", rtt)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay: listening: %w", err)
	}
	r := &Relay{ln: ln, target: target, delay: rtt / 2, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr returns the address clients connect to (127.0.0.1:port).
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// RTT returns the round trip the relay adds.
func (r *Relay) RTT() time.Duration { return 2 * r.delay }

// Via returns the URL connection string dsn with its host and port
// replaced by the relay's.
func (r *Relay) Via(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "", errors.New("relay: the connection string is not a URL with a host")
	}
	u.Host = r.Addr()
	return u.String(), nil
}

// Close stops listening, cuts every open connection and waits for the
// relay's goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors, say: new clients wait in the
			// listen backlog until one is free again.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.serve(c)
		}()
	}
}

// serve connects a client to the target, each connection on its own so
// that a slow connect holds up no other client.
func (r *Relay) serve(client net.Conn) {
	if !r.track(client) {
		return
	}
	server, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil || !r.track(server) {
		if server != nil {
			server.Close()
		}
		r.untrack(client)
		client.Close()
		return
	}
	r.pipe(client, server)
}

// track registers a pair of connections for Close; false once closed.
func (r *Relay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		r.conns[c] = true
	}
	return true
}

// pipe relays both directions of a connection and closes both ends when
// both directions ended.
func (r *Relay) pipe(client, server net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.forward(server, client) }()
	go func() { defer wg.Done(); r.forward(client, server) }()
	wg.Wait()
	r.untrack(client, server)
	client.Close()
	server.Close()
}

// untrack forgets connections that are about to be closed.
func (r *Relay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		delete(r.conns, c)
	}
}

// chunk is what one read returned, with when it may be written.
type chunk struct {
	data []byte
	due  time.Time
	err  error // set on the last chunk: why reading ended
}

// forward copies src to dst, each read held until delay after it
// arrived. A reader and a writer run apart, so that a burst of reads keeps
// its spacing instead of adding up the delays.
func (r *Relay) forward(dst, src net.Conn) {
	queue := make(chan chunk, 64)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{data: bytes.Clone(buf[:n]), due: time.Now().Add(r.delay)}
			}
			if err != nil {
				queue <- chunk{err: err, due: time.Now().Add(r.delay)}
				close(queue)
				return
			}
		}
	}()
	precise, done := preciseSleeper()
	defer done()
	for c := range queue {
		if wait := time.Until(c.due); wait > 0 {
			precise(wait)
		}
		if c.err != nil {
			if errors.Is(c.err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					continue
				}
			}
			dst.Close()
			continue
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close()
			for range queue {
			}
			return
		}
	}
}
