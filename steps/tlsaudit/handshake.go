package tlsaudit

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrTLSNotOffered is returned when a PostgreSQL server answers the
// SSLRequest with N: it does not speak TLS at all.
var ErrTLSNotOffered = errors.New("server answered the SSLRequest with N: TLS is not enabled (ssl = off)")

// sslRequestCode is PostgreSQL's SSLRequest code (1234 << 16 | 5679).
const sslRequestCode = 80877103

// Versions are the protocol versions probed one by one, oldest first, with
// the names PostgreSQL and OpenSSL use for them.
var Versions = []struct {
	ID   uint16
	Name string // TLSv1, TLSv1.1, TLSv1.2, TLSv1.3
	Key  string // output key: tls10, tls11, tls12, tls13
}{
	{tls.VersionTLS10, "TLSv1", "tls10"},
	{tls.VersionTLS11, "TLSv1.1", "tls11"},
	{tls.VersionTLS12, "TLSv1.2", "tls12"},
	{tls.VersionTLS13, "TLSv1.3", "tls13"},
}

// VersionName returns the PostgreSQL/OpenSSL name of a TLS version
// ("TLSv1.3"), or "" for 0.
func VersionName(v uint16) string {
	for _, x := range Versions {
		if x.ID == v {
			return x.Name
		}
	}
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("0x%04x", v)
}

// dialer opens connections to one target.
type dialer struct {
	target  *Target
	timeout time.Duration
}

// handshake connects and completes a TLS handshake with cfg: after an
// SSLRequest for PostgreSQL targets unless direct is set, straight away
// otherwise. It returns the connection state; the connection is closed.
func (d dialer) handshake(ctx context.Context, cfg *tls.Config, direct bool) (tls.ConnectionState, error) {
	conn, err := d.dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	if d.target.Kind == KindPostgres && !direct {
		if err := sslRequest(conn); err != nil {
			return tls.ConnectionState{}, err
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	st := tc.ConnectionState()
	_ = tc.Close() // sends close_notify
	return st, nil
}

// dial opens a TCP connection with the dialer's timeout as the deadline of
// everything that follows on it.
func (d dialer) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.target.Addr())
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", d.target.Addr(), err)
	}
	_ = conn.SetDeadline(time.Now().Add(d.timeout))
	return conn, nil
}

// sslRequest sends PostgreSQL's SSLRequest and reads the one-byte answer.
func sslRequest(conn net.Conn) error {
	var msg [8]byte
	binary.BigEndian.PutUint32(msg[0:], 8)
	binary.BigEndian.PutUint32(msg[4:], sslRequestCode)
	if _, err := conn.Write(msg[:]); err != nil {
		return fmt.Errorf("sending SSLRequest: %w", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return fmt.Errorf("reading the answer to SSLRequest (is this a PostgreSQL server?): %w", err)
	}
	switch b[0] {
	case 'S':
		return nil
	case 'N':
		return ErrTLSNotOffered
	case 'E':
		return errors.New("server answered the SSLRequest with an error message: it is older than PostgreSQL 7.0 or not PostgreSQL")
	}
	return fmt.Errorf("server answered the SSLRequest with byte 0x%02x, not S or N: is this a PostgreSQL server?", b[0])
}

// allCipherSuites returns every suite crypto/tls implements, insecure ones
// included, so that a pinned handshake tests the version and not Go's
// default suite list (which has nothing for some old servers).
func allCipherSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}

// probeVersions makes one handshake pinned to each version, concurrently,
// and returns, by output key, whether it succeeded and, if not, why.
func (d dialer) probeVersions(ctx context.Context, base *tls.Config) (map[string]bool, map[string]string) {
	accepts, why := map[string]bool{}, map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, v := range Versions {
		cfg := base.Clone()
		cfg.MinVersion, cfg.MaxVersion = v.ID, v.ID
		cfg.CipherSuites = allCipherSuites()
		wg.Go(func() {
			_, err := d.handshake(ctx, cfg, false)
			mu.Lock()
			defer mu.Unlock()
			accepts[v.Key] = err == nil
			if err != nil {
				why[v.Key] = err.Error()
			}
		})
	}
	wg.Wait()
	return accepts, why
}
