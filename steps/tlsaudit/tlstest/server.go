package tlstest

import (
	"crypto/tls"
	"testing"
	"time"
)

// Serve runs a Go TLS server on 127.0.0.1 that completes handshakes and
// hangs up, until the test ends, and returns its tls:// target.
func Serve(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return "tls://" + l.Addr().String()
}
