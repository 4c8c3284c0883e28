package codec

import (
	"bytes"
	"fmt"
	"testing"

	"go.uber.org/goleak"
)

func TestZstdRoundTrip(t *testing.T) {
	defer goleak.VerifyNone(t)
	const chunk = 64 << 10
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 5*chunk + chunk/2} {
		plain := dumpLike(size, uint64(size))
		for _, workers := range []int{1, 2, 4} {
			for _, step := range []int{0, 1000, 3 * chunk} {
				name := fmt.Sprintf("size=%d/workers=%d/step=%d", size, workers, step)
				z := compress(t, plain, ZstdOptions{Workers: workers, ChunkSize: chunk}, step)
				if want := max(1, (size+chunk-1)/chunk); countFrames(t, z) != want {
					t.Errorf("%s: %d frames, want one per chunk: %d", name, countFrames(t, z), want)
				}
				for _, rstep := range []int{0, 777} {
					got, err := decompress(z, workers, rstep)
					if err != nil {
						t.Fatalf("%s: read step %d: %v", name, rstep, err)
					}
					if !bytes.Equal(got, plain) {
						t.Fatalf("%s: read step %d: round trip differs (%d bytes, want %d)", name, rstep, len(got), len(plain))
					}
				}
			}
		}
	}
}

func TestZstdLevels(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := dumpLike(3<<20, 1)
	sizes := map[int]int{}
	for _, level := range []int{1, 3, 7, 19} {
		z := compress(t, plain, ZstdOptions{Level: level, Workers: 2}, 0)
		got, err := decompress(z, 2, 0)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("level %d: round trip: %v", level, err)
		}
		sizes[level] = len(z)
	}
	if sizes[19] >= sizes[1] {
		t.Errorf("level 19 (%d bytes) is no smaller than level 1 (%d bytes): levels are not applied", sizes[19], sizes[1])
	}
	for _, o := range []ZstdOptions{{Level: 23}, {Level: -1}, {Workers: -1}, {ChunkSize: 1000}, {ChunkSize: MaxChunkSize + 1}} {
		if _, err := NewZstdWriter(&bytes.Buffer{}, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestEncodeWorkers(t *testing.T) {
	for procs, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 2, 5: 3, 6: 4, 8: 4, 64: 4} {
		if got := encodeWorkers(procs); got != want {
			t.Errorf("encodeWorkers(%d) = %d, want %d", procs, got, want)
		}
	}
}
