package relay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers every byte it reads with the same byte until the
// client half-closes, then closes.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ping sends one byte and waits for its echo.
func ping(t testing.TB, c net.Conn) time.Duration {
	start := time.Now()
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// TestRelayAddsTheRoundTrip measures round trips of one byte straight to
// an echo server and through a relay of 500 µs, alternately. No round
// trip through the relay may be shorter than 500 µs (it never forwards
// early); the median may exceed the direct one plus 500 µs by at most 3 ms
// (a generous bound: a loaded machine wakes sleepers late).
func TestRelayAddsTheRoundTrip(t *testing.T) {
	const rtt = 500 * time.Microsecond
	echo := echoServer(t)
	r, err := Start(echo, rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	direct, relayed := dial(t, echo), dial(t, r.Addr())
	var ds, rs []time.Duration
	for range 200 {
		ds = append(ds, ping(t, direct))
		rs = append(rs, ping(t, relayed))
	}
	slices.Sort(ds)
	slices.Sort(rs)
	added := rs[len(rs)/2] - ds[len(ds)/2]
	t.Logf("round trip, median of 200: direct %s, relayed %s: the relay adds %s (claims %s); fastest relayed %s",
		ds[100], rs[100], added, rtt, rs[0])
	if rs[0] < rtt {
		t.Errorf("a round trip through the relay took %s, less than its %s", rs[0], rtt)
	}
	if added > rtt+3*time.Millisecond {
		t.Errorf("the relay adds %s to the median round trip, claims %s", added, rtt)
	}
}

// TestRelayCarriesTheStream sends 2 MiB through the relay, half-closes and
// reads the echo back whole: bytes arrive in order and the half-close
// travels too.
func TestRelayCarriesTheStream(t *testing.T) {
	r, err := Start(echoServer(t), 200*time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := dial(t, r.Addr())
	data := make([]byte, 2<<20)
	rand.Read(data)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes back, equal %v, err %v", len(got), len(data), bytes.Equal(got, data), err)
	}
}

// TestRelayClose cuts open connections and refuses new ones.
func TestRelayClose(t *testing.T) {
	r, err := Start(echoServer(t), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, r.Addr())
	ping(t, c)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a connection through a closed relay still reads")
	}
	if c, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("a closed relay still accepts connections")
	}
	if _, err := Start("127.0.0.1:1", -time.Second); err == nil {
		t.Error("a negative round trip was accepted")
	}
	if _, err := r.Via("host=x port=5"); err == nil {
		t.Error("Via accepted a key=value connection string")
	}
	if got, _ := r.Via("postgres://u:p@127.0.0.1:5432/app?sslmode=disable"); got != "postgres://u:p@"+r.Addr()+"/app?sslmode=disable" {
		t.Errorf("Via: %s", got)
	}
}

// BenchmarkRelayRoundTrip reports what a relay of 500 µs adds to a round
// trip of one byte, against the direct round trip measured in the same
// run: the medians' difference (added-µs) and its ratio to the claimed
// 500 µs; the mean (mean-added-µs) shows how late a loaded machine wakes.
func BenchmarkRelayRoundTrip(b *testing.B) {
	const rtt = 500 * time.Microsecond
	echo := echoServer(b)
	r, err := Start(echo, rtt)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	direct, relayed := dial(b, echo), dial(b, r.Addr())
	var ds, rs []time.Duration
	var sum time.Duration
	for b.Loop() {
		d, r := ping(b, direct), ping(b, relayed)
		ds, rs, sum = append(ds, d), append(rs, r), sum+r-d
	}
	slices.Sort(ds)
	slices.Sort(rs)
	added := float64(rs[len(rs)/2] - ds[len(ds)/2])
	b.ReportMetric(added/1e3, "added-µs")
	b.ReportMetric(added/float64(rtt), "added/claimed")
	b.ReportMetric(float64(sum)/float64(len(ds))/1e3, "mean-added-µs")
}
