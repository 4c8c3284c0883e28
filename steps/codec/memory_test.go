package codec

import (
	"bytes"
	"io"
	"runtime"
	"testing"
)

// heapPeak runs work, which calls sample now and then, and returns the
// largest heap growth over the heap before work that sample saw.
func heapPeak(work func(sample func())) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, uint64(0)
	work(func() {
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > base {
			peak = max(peak, ms.HeapAlloc-base)
		}
	})
	return peak
}

// TestZstdMemoryBound streams 32 MiB and 256 MiB through the compressor and
// the parallel reader: the heap each holds stays under the writer's
// MemoryBound and does not grow with the stream.
func TestZstdMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: streams 576 MiB (-short)")
	}
	src := dumpLike(4<<20, 8)
	opts := ZstdOptions{Workers: 2}
	bound := uint64(opts.MemoryBound())
	encode := func(total int) uint64 {
		return heapPeak(func(sample func()) {
			z, err := NewZstdWriter(io.Discard, opts)
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < total; n += len(src) {
				if _, err := z.Write(src); err != nil {
					t.Fatal(err)
				}
				sample()
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	frames := compress(t, src, opts, 0)
	decode := func(total int) uint64 {
		return heapPeak(func(sample func()) {
			var parts []io.Reader
			for n := 0; n < total; n += len(src) {
				parts = append(parts, bytes.NewReader(frames))
			}
			z, err := NewZstdReader(io.MultiReader(parts...), ZstdReaderOptions{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer z.Close()
			n, err := z.WriteTo(writerFunc(func(p []byte) (int, error) {
				sample()
				return len(p), nil
			}))
			if err != nil || n != int64(total) {
				t.Fatalf("decoded %d bytes of %d: %v", n, total, err)
			}
		})
	}
	small, large := encode(32<<20), encode(256<<20)
	t.Logf("compress: heap peak %.1f MiB for 32 MiB, %.1f MiB for 256 MiB (bound %.1f MiB)", mib(small), mib(large), mib(bound))
	if large > bound || small > bound {
		t.Errorf("compress holds more than its bound of %.1f MiB", mib(bound))
	}
	if large > small+2<<20 {
		t.Errorf("compress memory grows with the stream: %.1f MiB for 32 MiB, %.1f MiB for 256 MiB", mib(small), mib(large))
	}
	small, large = decode(32<<20), decode(256<<20)
	t.Logf("decompress: heap peak %.1f MiB for 32 MiB, %.1f MiB for 256 MiB", mib(small), mib(large))
	if large > bound || small > bound {
		t.Errorf("decompress holds more than %.1f MiB", mib(bound))
	}
	if large > small+2<<20 {
		t.Errorf("decompress memory grows with the stream: %.1f MiB for 32 MiB, %.1f MiB for 256 MiB", mib(small), mib(large))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
