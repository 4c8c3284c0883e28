package runner

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"syscall"
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

// TestPipeWakesWaitingSideInBatches: a writer waiting on a full buffer is
// woken once a quarter is free, not before; a reader waiting on an empty
// one gets a small write without the writer closing or writing more (after
// pipeWakeDelay at the latest), so a writer that pauses never stalls it.
func TestPipeWakesWaitingSideInBatches(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := newPipe(100)
	got := make(chan string)
	go func() {
		b := make([]byte, 100)
		n, err := p.Read(b)
		if err != nil {
			t.Error(err)
		}
		got <- string(b[:n])
	}()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.readerWaits })
	if _, err := p.Write([]byte("small")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "small" {
			t.Errorf("read %q, want %q", s, "small")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a 5-byte write never reached the waiting reader")
	}

	p = newPipe(100)
	done := make(chan error)
	go func() {
		_, err := p.Write(make([]byte, 150)) // fills the buffer, waits for room
		done <- err
	}()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.writerWaits })
	buffered := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.n }
	buf := make([]byte, 10)
	for range 2 {
		if _, err := p.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if n := buffered(); n != 80 {
		t.Errorf("writer woken with 20 of 100 bytes free (%d buffered); want it woken at 25", n)
	}
	if _, err := p.Read(buf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return buffered() == 100 }) // woken: 30 more written
	if _, err := io.ReadFull(p, make([]byte, 120)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("timed out")
		}
	}
}

// BenchmarkPipe streams 64 MiB through a pipe of pipeBuffer bytes, written
// in age's 64 KiB chunks by a writer that hashes each (about the work of
// sealing it) and read in io.Copy's 32 KiB pieces by a faster reader, which
// therefore waits at most reads. It wakes the waiting side at every write
// and read (wake=1, as before batching) or once a quarter of the buffer is
// ready (the default), and reports MB per CPU second of the process besides
// MB/s:
//
//	go test ./runner -run '^$' -bench Pipe -count 5
func BenchmarkPipe(b *testing.B) {
	const total = 64 << 20
	chunk := make([]byte, 64<<10)
	for _, c := range []struct {
		name string
		wake int
	}{{"wake=1", 1}, {"wake=quarter", pipeBuffer / pipeWakeFraction}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(total)
			c0 := processCPU()
			for b.Loop() {
				p := newPipe(pipeBuffer)
				p.wake = c.wake
				go func() {
					for n := 0; n < total; n += len(chunk) {
						sha256.Sum256(chunk)
						if _, err := p.Write(chunk); err != nil {
							b.Error(err)
							return
						}
					}
					p.CloseWrite(nil)
				}()
				buf := make([]byte, 32<<10)
				for {
					if _, err := p.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
			cpu := processCPU() - c0
			b.ReportMetric(float64(total)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
