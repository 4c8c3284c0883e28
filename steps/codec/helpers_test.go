package codec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
)

// dumpLike returns n bytes shaped like the rows of pg_dump's COPY data in
// bench/pipeline.sh (ids, names, e-mail addresses, amounts, timestamps,
// md5 hex and repeated words), deterministic for a seed. It compresses
// about as well as the benchmark's dump.
func dumpLike(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	status := []string{"new", "paid", "shipped", "returned"}
	var b bytes.Buffer
	b.Grow(n + 512)
	b.WriteString("COPY public.orders (id, customer, email, amount, placed, status, note) FROM stdin;\n")
	for g := int64(rng.IntN(1000)); b.Len() < n; g++ {
		c := g % 50000
		fmt.Fprintf(&b, "%d\tCustomer %d\tc%d@example.com\t%d.%02d\t2024-%02d-%02d %02d:%02d:%02d+00\t%s\t%016x%016x %s%016x%016x\n",
			g, c, c, g*7919%1000000/100, g*7919%100, 1+g%12, 1+g%28, g%24, g%60, (g*7)%60, status[g%4],
			rng.Uint64(), rng.Uint64(), strings.Repeat(fmt.Sprintf("item %d ", g%977), 8), rng.Uint64(), rng.Uint64())
	}
	return b.Bytes()[:n]
}

// runZstd runs the zstd CLI with stdin and returns its stdout.
func runZstd(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testenv.LookPath(t, "zstd", "apt-get install -y zstd"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// compress runs a ZstdWriter over in with o, through Write calls of at
// most step bytes (0: one ReadFrom).
func compress(t testing.TB, in []byte, o ZstdOptions, step int) []byte {
	t.Helper()
	var out bytes.Buffer
	z, err := NewZstdWriter(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	if step == 0 {
		if _, err := z.ReadFrom(bytes.NewReader(in)); err != nil {
			t.Fatal(err)
		}
	} else {
		for p := in; len(p) > 0; {
			k := min(step, len(p))
			if _, err := z.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// decompress reads the zstd stream in with a ZstdReader: through WriteTo,
// or through Read calls of step bytes when step > 0.
func decompress(in []byte, workers, step int) ([]byte, error) {
	z, err := NewZstdReader(bytes.NewReader(in), ZstdReaderOptions{Workers: workers})
	if err != nil {
		return nil, err
	}
	defer z.Close()
	var out bytes.Buffer
	if step == 0 {
		_, err = z.WriteTo(&out)
	} else {
		buf := make([]byte, step)
		for {
			var n int
			n, err = z.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if err == io.EOF {
			err = nil
		}
	}
	return out.Bytes(), err
}

// countFrames counts the zstd frames of a stream.
func countFrames(t testing.TB, z []byte) int {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(z))
	n := 0
	for {
		kind, _, _, err := readFrame(br, nil, 1<<30, 1<<30)
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		if kind == frameEnd {
			return n
		}
		n++
	}
}
