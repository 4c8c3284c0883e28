package runner

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestPipeRoundTrip streams bytes through a small buffer in writes and
// reads of random sizes, so that the ring wraps at every offset.
func TestPipeRoundTrip(t *testing.T) {
	defer goleak.VerifyNone(t)
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	p := newPipe(1000)
	go func() {
		for b := data; len(b) > 0; {
			k := min(len(b), 1+rng.IntN(3000))
			if _, err := p.Write(b[:k]); err != nil {
				t.Error(err)
				return
			}
			b = b[k:]
		}
		p.CloseWrite(nil)
	}()
	var got bytes.Buffer
	buf := make([]byte, 1500)
	for {
		n, err := p.Read(buf[:1+rand.IntN(len(buf))])
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %d bytes, not the %d written", got.Len(), len(data))
	}
}

// TestPipeFailure: a writer's error reaches the reader at once, even with
// bytes still buffered (a failed stream must never look complete); a closed
// reader fails the writer, also one waiting on a full buffer.
func TestPipeFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	boom := errors.New("boom")
	p := newPipe(16)
	if _, err := p.Write([]byte("buffered")); err != nil {
		t.Fatal(err)
	}
	p.CloseWrite(boom)
	if n, err := p.Read(make([]byte, 16)); n != 0 || !errors.Is(err, boom) {
		t.Errorf("read after a failed write side: %d bytes, %v; want 0, boom", n, err)
	}

	p = newPipe(16)
	done := make(chan error)
	go func() {
		_, err := p.Write(make([]byte, 100)) // fills the buffer, then waits
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	p.CloseRead(boom)
	if err := <-done; !errors.Is(err, boom) {
		t.Errorf("blocked write after the reader closed: %v, want boom", err)
	}
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read after CloseRead: %v", err)
	}

	p = newPipe(16)
	_, _ = p.Write([]byte("tail"))
	p.CloseWrite(nil)
	p.CloseWrite(boom) // too late: the first close counts
	if b, err := io.ReadAll(p); string(b) != "tail" || err != nil {
		t.Errorf("clean close: read %q, %v; want the buffered bytes, then EOF", b, err)
	}
	if _, err := p.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("write after close: %v", err)
	}
}
