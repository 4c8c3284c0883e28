package steps

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/testenv"
	"go.uber.org/goleak"
)

func TestCompressRoundTrip(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	plain := sqlLikeText(3 << 20)
	cases := []struct {
		p         Compress
		wantLevel int64
	}{
		{*params[Compress](t, "compress", ""), 1},
		{Compress{Algorithm: "zstd", Level: 3, Threads: 1}, 3},
		{Compress{Algorithm: "zstd", Level: 7, Threads: 2}, 7},
		{Compress{Algorithm: "zstd", Level: 19, Threads: 1}, 19},
		{*params[Compress](t, "compress", "{algorithm: gzip}"), 1},
		{Compress{Algorithm: "gzip", Level: 9}, 9},
	}
	sc := &runner.StepContext{ID: "compress"}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d-t%d", c.p.Algorithm, c.p.Level, c.p.Threads), func(t *testing.T) {
			z, out, err := xformBytes(&c.p, sc, plain)
			if err != nil {
				t.Fatal(err)
			}
			algo := c.p.Algorithm
			if out["algorithm"] != algo || out["level"] != c.wantLevel ||
				out["bytes_in"] != int64(len(plain)) || out["bytes_out"] != int64(len(z)) {
				t.Errorf("outputs = %v", out)
			}
			if r := out["ratio"].(float64); r < 2.5 {
				t.Errorf("ratio %.2f on SQL text is too low", r)
			}
			got, dout, err := xformBytes(params[Decompress](t, "decompress", ""), sc, z)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatal("round trip differs")
			}
			if dout["algorithm"] != algo || dout["bytes_in"] != int64(len(z)) || dout["bytes_out"] != int64(len(plain)) {
				t.Errorf("decompress outputs = %v", dout)
			}
		})
	}
}

func TestCompressValidate(t *testing.T) {
	cases := []struct {
		p    Compress
		want string
	}{
		{Compress{Algorithm: "zstd", Level: 23}, "level 23 is out of range for zstd"},
		{Compress{Algorithm: "zstd", Level: 0}, "level 0 is out of range for zstd"},
		{Compress{Algorithm: "gzip", Level: 10}, "level 10 is out of range for gzip"},
		{Compress{Algorithm: "gzip", Level: 1, Threads: 4}, "threads is for zstd only"},
		{Compress{Algorithm: "zstd", Level: 1, Threads: -1}, "threads -1 is negative"},
	}
	for _, c := range cases {
		if err := c.p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.p, err, c.want)
		}
	}
}

// TestCompressCLIInterop proves that the standard zstd and gzip tools read
// what compress writes, and decompress reads what they write (including
// concatenated frames).
func TestCompressCLIInterop(t *testing.T) {
	plain := sqlLikeText(1 << 20)
	sc := &runner.StepContext{ID: "compress"}
	tools := []struct {
		algo, tool string
		level      int
		threads    int
	}{
		{"zstd", "zstd", 1, 1}, {"zstd", "zstd", 3, 2}, {"zstd", "zstd", 12, 1}, {"gzip", "gzip", 6, 0},
	}
	for _, tc := range tools {
		t.Run(fmt.Sprintf("%s-%d-t%d", tc.algo, tc.level, tc.threads), func(t *testing.T) {
			bin := testenv.LookPath(t, tc.tool, "install it with apt-get install -y "+tc.tool)
			in := plain
			if tc.threads > 1 {
				// Several 1 MiB chunks, so that frames really are compressed
				// in parallel and zstd -d reads them as one stream.
				in = bytes.Repeat(plain, 40)
			}
			z, _, err := xformBytes(&Compress{Algorithm: tc.algo, Level: tc.level, Threads: tc.threads}, sc, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := runCLI(t, z, bin, "-d", "-c"); !bytes.Equal(got, in) {
				t.Fatalf("%s -d of our output differs", tc.tool)
			}
			theirs := runCLI(t, plain, bin, fmt.Sprintf("-%d", tc.level), "-c")
			theirs = append(theirs, runCLI(t, []byte("-- more\n"), bin, "-c")...)
			got, _, err := xformBytes(&Decompress{Algorithm: tc.algo}, sc, theirs)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append(bytes.Clone(plain), "-- more\n"...)) {
				t.Fatalf("decompress of %s output differs", tc.tool)
			}
		})
	}
}

func TestDecompressCorrupt(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	plain := sqlLikeText(512 << 10)
	sc := &runner.StepContext{ID: "decompress"}
	for _, algo := range []string{"zstd", "gzip"} {
		z, _, err := xformBytes(&Compress{Algorithm: algo, Threads: 1}, sc, plain)
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(z)
		flipped[len(z)/2] ^= 0xff
		for name, in := range map[string][]byte{
			"truncated":     z[:len(z)/2],
			"last byte cut": z[:len(z)-1],
			"flipped":       flipped,
			"header only":   z[:6],
		} {
			_, _, err := xformBytes(params[Decompress](t, "decompress", ""), sc, in)
			want := "compressed input is truncated or corrupted: " + algo + ": "
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s %s: err = %v, want %q", algo, name, err, want)
			}
		}
	}
	_, _, err := xformBytes(params[Decompress](t, "decompress", ""), sc, []byte("COPY public.orders"))
	if err == nil || !strings.Contains(err.Error(), "input is neither zstd nor gzip") {
		t.Errorf("plain input: %v", err)
	}
	if _, _, err := xformBytes(params[Decompress](t, "decompress", ""), sc, nil); err == nil || !strings.Contains(err.Error(), "input is empty") {
		t.Errorf("empty input: %v", err)
	}
}

func TestCompressUpstreamFailure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	boom := fmt.Errorf("step \"dump\": pg_dump exited 1")
	for _, p := range []*Compress{{Algorithm: "zstd", Threads: 2}, {Algorithm: "gzip"}} {
		_, err := p.Transform(context.Background(), &runner.StepContext{}, &failingReader{sqlLikeText(100 << 10), boom}, io.Discard)
		if err == nil || err.Error() != "reading input: "+boom.Error() {
			t.Errorf("%s: err = %v, want reading input: %v", p.Algorithm, err, boom)
		}
	}
}

// BenchmarkCompressGzip measures gzip throughput on SQL text.
func BenchmarkCompressGzip(b *testing.B) {
	plain := sqlLikeText(16 << 20)
	for _, level := range []int{1, 6} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			benchCompress(b, &Compress{Algorithm: "gzip", Level: level}, plain)
		})
	}
}

func benchCompress(b *testing.B, p *Compress, plain []byte) {
	sc := &runner.StepContext{}
	b.SetBytes(int64(len(plain)))
	var ratio float64
	for b.Loop() {
		out, err := p.Transform(context.Background(), sc, bytes.NewReader(plain), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		ratio = out["ratio"].(float64)
	}
	b.ReportMetric(ratio, "ratio")
}
