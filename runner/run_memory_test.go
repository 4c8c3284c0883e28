package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// memoryPlan streams size bytes from a source through a transform into a
// discarding sink.
func memoryPlan(size int64) string {
	return fmt.Sprintf(`
version: 1
steps:
  src: {type: gen, with: {size: %d}}
  up:  {type: upper, input: src}
  out: {type: file, input: up}
`, size)
}

// peakHeap samples the in-use heap every few milliseconds until stop is
// called, and returns the largest sample.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// TestRunStreamBoundedMemory streams 256 MiB and checks the heap never holds
// more than a few chunks: memory does not grow with the data.
func TestRunStreamBoundedMemory(t *testing.T) {
	defer goleak.VerifyNone(t)
	const size = 256 << 20
	const limit = 32 << 20
	runtime.GC()
	stop := peakHeap()
	rep, err := runPlan(t, context.Background(), memoryPlan(size), RunOptions{})
	peak := stop()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if b := rep.Step("out").Bytes; b == nil || b.In != size {
		t.Fatalf("sink read %+v, want %d bytes", b, size)
	}
	t.Logf("streamed %s with a peak heap of %s", FormatBytes(size), FormatBytes(int64(peak)))
	if peak > limit {
		t.Errorf("peak heap %s while streaming %s, want under %s", FormatBytes(int64(peak)), FormatBytes(size), FormatBytes(limit))
	}
}

// BenchmarkRunStream1GiB streams 1 GiB source -> transform -> sink per
// iteration and reports the peak heap.
func BenchmarkRunStream1GiB(b *testing.B) {
	const size = 1 << 30
	p, err := Load("plan.yaml", []byte(memoryPlan(size)), testRegistry)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	var peak uint64
	for b.Loop() {
		events.reset()
		stop := peakHeap()
		if _, err := Run(context.Background(), p, RunOptions{StateDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, stop())
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
