package codec

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// DefaultChunkSize is how much input goes into each independent frame when
// ZstdOptions.ChunkSize is 0: 1 MiB, with a window of the whole frame.
// Measured with BenchmarkZstdWindow against `zstd -1 -T0` on the same data
// (see docs/performance.md): on bench/pipeline.sh's dump, 1 MiB frames are
// 1.027x its size, larger frames no better (4 MiB: 1.029x); smaller frames
// or windows (128-256 KiB: 1.012-1.018x) keep klauspost/compress's fastest
// encoder from far matches that cost more than they save on that table,
// but lose 5-7% on text with distant repeats (Go source: 1.055x against
// 1.012x) and cost up to 25% more CPU. The memory in flight stays at a few
// MiB per worker.
const DefaultChunkSize = 1 << 20

// MaxChunkSize is the largest ChunkSize, and the largest frame content the
// parallel reader decodes as a unit (larger frames are streamed).
const MaxChunkSize = 4 << 20

// minChunkSize keeps frames large enough that their header and checksum
// (about 14 bytes) do not matter.
const minChunkSize = 64 << 10

// ZstdOptions configures NewZstdWriter.
type ZstdOptions struct {
	// Level is a zstd CLI level, 1..22 (0: DefaultZstdLevel), mapped to the
	// nearest klauspost/compress speed: 1-2 fastest, 3-5 default, 6-9
	// better, 10+ best.
	Level int
	// Workers is how many chunks are compressed at once (0: EncodeWorkers()).
	Workers int
	// ChunkSize is the input bytes per frame (0: DefaultChunkSize), from
	// 64 KiB to MaxChunkSize.
	ChunkSize int
}

// ZstdWriter compresses what is written to it into independent zstd frames,
// one per chunk, compressed by several workers and written in order. Memory
// is bounded by (Workers+1) chunks with their compressed output, plus each
// worker's encoder state (see MemoryBound).
type ZstdWriter struct {
	dst   io.Writer
	enc   *zstd.Encoder
	chunk int

	free  chan *zjob // jobs ready to be filled: Workers+1 of them in all
	work  chan *zjob // filled, to compress
	order chan *zjob // filled, in input order, to write out
	quit  chan struct{}
	wg    sync.WaitGroup // workers and the output goroutine

	cur    *zjob // the job being filled
	wrote  bool  // whether any chunk was submitted
	closed bool

	mu  sync.Mutex
	err error // the first error writing to dst
}

type zjob struct {
	in   []byte
	out  []byte
	done chan struct{}
}

// NewZstdWriter returns a writer that compresses into w. Close flushes the
// last chunk and waits for the workers; it does not close w.
func NewZstdWriter(w io.Writer, o ZstdOptions) (*ZstdWriter, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil,
		// Each frame ends with the xxhash of its content, as the zstd CLI
		// writes it, although it costs about 3% of the encoder's CPU and
		// the age layer authenticates every byte that is stored: age seals
		// whatever it is given, so only this checksum catches a frame that
		// was damaged before sealing (a codec bug, a bit flip in memory),
		// and `zstd -t` can check a decrypted backup on its own.
		zstd.WithEncoderCRC(true),
		// The window first: set after the level, it would keep the level's
		// smaller block size.
		zstd.WithWindowSize(frameWindow(o.ChunkSize)),
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(o.Level)),
		zstd.WithEncoderConcurrency(o.Workers),
		// Every frame then records its content size, even the small last
		// one, which lets the reader decode it as a unit.
		zstd.WithSingleSegment(true),
	)
	if err != nil {
		return nil, fmt.Errorf("starting zstd: %w", err)
	}
	z := &ZstdWriter{
		dst:   w,
		enc:   enc,
		chunk: o.ChunkSize,
		free:  make(chan *zjob, o.Workers+1),
		work:  make(chan *zjob, o.Workers+1),
		order: make(chan *zjob, o.Workers+1),
		quit:  make(chan struct{}),
	}
	for range o.Workers + 1 {
		z.free <- &zjob{}
	}
	z.wg.Add(o.Workers + 1)
	for range o.Workers {
		go z.compress()
	}
	go z.output()
	return z, nil
}

func (o ZstdOptions) withDefaults() (ZstdOptions, error) {
	if o.Level == 0 {
		o.Level = DefaultZstdLevel
	}
	if o.Workers == 0 {
		o.Workers = EncodeWorkers()
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	switch {
	case o.Level < 1 || o.Level > 22:
		return o, fmt.Errorf("zstd level %d is out of range: use 1..22", o.Level)
	case o.Workers < 1:
		return o, fmt.Errorf("zstd workers %d: use 1 or more", o.Workers)
	case o.ChunkSize < minChunkSize || o.ChunkSize > MaxChunkSize:
		return o, fmt.Errorf("zstd chunk size %d is out of range: use %d..%d", o.ChunkSize, minChunkSize, MaxChunkSize)
	}
	return o, nil
}

// frameWindow is the smallest power of two holding a chunk: a frame never
// refers further back than its own start.
func frameWindow(chunk int) int {
	return 1 << bits.Len(uint(chunk-1))
}

// MemoryBound is an upper bound of the heap a ZstdWriter with these options
// holds: Workers+1 chunks with their compressed output, and per worker an
// encoder's history (twice the window) and match tables.
func (o ZstdOptions) MemoryBound() int {
	o, err := o.withDefaults()
	if err != nil {
		return 0
	}
	out := o.ChunkSize + o.ChunkSize/255 + 64<<10
	// Match tables, block and entropy buffers: about 1.5 MiB per encoder
	// at level 1 (heap profile), more for the slower levels' larger and
	// chained tables.
	tables := 2 << 20
	if o.Level >= 3 {
		tables = 8 << 20
	}
	return (o.Workers+1)*(o.ChunkSize+out) + o.Workers*(2*frameWindow(o.ChunkSize)+maxBlockSize+tables)
}

// Write implements io.Writer.
func (z *ZstdWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := z.fill(); err != nil {
			return n, err
		}
		k := min(len(p), z.chunk-len(z.cur.in))
		z.cur.in = append(z.cur.in, p[:k]...)
		p, n = p[k:], n+k
		if len(z.cur.in) == z.chunk {
			z.submit()
		}
	}
	return n, nil
}

// ReadFrom reads r to its end straight into chunk buffers, saving the copy
// that Write needs. Errors of r are returned as they are.
func (z *ZstdWriter) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		if err := z.fill(); err != nil {
			return n, err
		}
		in := z.cur.in
		k, err := r.Read(in[len(in):z.chunk])
		z.cur.in = in[:len(in)+k]
		n += int64(k)
		if len(z.cur.in) == z.chunk {
			z.submit()
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// fill makes sure there is a job to fill, waiting for a free one, and
// returns the first output error.
func (z *ZstdWriter) fill() error {
	if z.closed {
		return errors.New("zstd: write after close")
	}
	if err := z.outErr(); err != nil {
		return err
	}
	if z.cur == nil {
		z.cur = <-z.free
		if cap(z.cur.in) < z.chunk {
			z.cur.in = make([]byte, 0, z.chunk)
			z.cur.out = make([]byte, 0, z.enc.MaxEncodedSize(z.chunk))
		}
		z.cur.in = z.cur.in[:0]
	}
	return nil
}

// submit hands the filled job to the workers and, in order, to the output.
func (z *ZstdWriter) submit() {
	j := z.cur
	z.cur = nil
	z.wrote = true
	j.done = make(chan struct{})
	z.order <- j
	z.work <- j
}

func (z *ZstdWriter) compress() {
	defer z.wg.Done()
	for j := range z.work {
		select {
		case <-z.quit:
		default:
			j.out = z.enc.EncodeAll(j.in, j.out[:0])
		}
		close(j.done)
	}
}

func (z *ZstdWriter) output() {
	defer z.wg.Done()
	for j := range z.order {
		<-j.done
		if z.outErr() == nil {
			select {
			case <-z.quit:
			default:
				if _, err := z.dst.Write(j.out); err != nil {
					z.mu.Lock()
					z.err = err
					z.mu.Unlock()
				}
			}
		}
		z.free <- j
	}
}

func (z *ZstdWriter) outErr() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

// Close compresses what remains, writes it and waits for the workers. An
// empty stream still becomes one (empty) frame, as the zstd CLI writes.
func (z *ZstdWriter) Close() error {
	if z.closed {
		return z.outErr()
	}
	if z.cur != nil && len(z.cur.in) > 0 || !z.wrote {
		if err := z.fill(); err != nil {
			z.Abort()
			return err
		}
		z.submit()
	}
	z.stop()
	return z.outErr()
}

// Abort stops the workers without writing anything more. It is safe after
// Close and after a failed Write; a Close after it returns an error, as
// what was written is incomplete.
func (z *ZstdWriter) Abort() {
	if z.closed {
		return
	}
	z.mu.Lock()
	if z.err == nil {
		z.err = errors.New("zstd: writer aborted: the output is incomplete")
	}
	z.mu.Unlock()
	close(z.quit)
	z.stop()
}

func (z *ZstdWriter) stop() {
	z.closed = true
	close(z.work)
	close(z.order)
	z.wg.Wait()
	_ = z.enc.Close()
}
