package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxWindow is the largest window a stream may ask of the reader: 128 MiB,
// the zstd CLI's own limit without --long, so memory stays bounded whatever
// the input claims.
const MaxWindow = 128 << 20

// maxFrameSize is the largest compressed frame decoded as a unit: a frame
// of MaxChunkSize content is at most that plus 3 bytes per block and its
// header, even when nothing compressed.
const maxFrameSize = MaxChunkSize + 64<<10

// ZstdReaderOptions configures NewZstdReader.
type ZstdReaderOptions struct {
	// Workers is how many frames are decoded at once (0: DecodeWorkers()).
	Workers int
}

// ZstdReader decompresses a zstd stream of any number of frames. Frames
// that declare a content size and a window of at most MaxChunkSize (what
// ZstdWriter writes, and `zstd` on a file of that size) are decoded by several
// workers at once; at the first other frame, the rest of the stream goes
// through one streaming decoder (klauspost/compress's, with a window of at
// most MaxWindow). Memory is bounded by Workers+1 frames with their content,
// or by the streaming decoder's window.
type ZstdReader struct {
	br      *bufio.Reader
	dec     *zstd.Decoder // for whole frames; safe for concurrent DecodeAll
	workers int

	free  chan *zframe
	work  chan *zframe
	order chan *zframe
	quit  chan struct{}
	wg    sync.WaitGroup // workers and the splitter

	cur    *zframe       // the frame being read out
	rest   []byte        // what remains of cur.out to read
	stream *zstd.Decoder // the streaming decoder, once the stream switched to it
	err    error         // sticky: the first error returned
	closed bool
}

// zframe is one frame, or the stream's end, an error, or the switch to the
// streaming decoder.
type zframe struct {
	in, out []byte
	size    int           // declared content size
	tail    io.Reader     // not nil: decode everything from here on with a streaming decoder
	end     bool          // the clean end of the stream
	err     error         // an error at this point of the stream
	done    chan struct{} // closed when out (or err) is ready
}

// NewZstdReader returns a reader of the stream r. Close stops its goroutines
// and waits for them: the one reading r returns once its current Read does.
func NewZstdReader(r io.Reader, o ZstdReaderOptions) (*ZstdReader, error) {
	if o.Workers == 0 {
		o.Workers = DecodeWorkers()
	}
	if o.Workers < 1 {
		return nil, fmt.Errorf("zstd workers %d: use 1 or more", o.Workers)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(o.Workers),
		zstd.WithDecoderMaxMemory(MaxChunkSize),
		zstd.WithDecoderMaxWindow(MaxWindow),
	)
	if err != nil {
		return nil, fmt.Errorf("starting zstd: %w", err)
	}
	quit := make(chan struct{})
	z := &ZstdReader{
		br:      bufio.NewReaderSize(quitReader{r, quit}, 64<<10),
		dec:     dec,
		workers: o.Workers,
		free:    make(chan *zframe, o.Workers+1),
		work:    make(chan *zframe, o.Workers+1),
		order:   make(chan *zframe, o.Workers+1),
		quit:    quit,
	}
	for range o.Workers + 1 {
		z.free <- &zframe{}
	}
	z.wg.Add(o.Workers + 1)
	for range o.Workers {
		go z.decode()
	}
	go z.split()
	return z, nil
}

// errReaderClosed is what a ZstdReader returns after Close.
var errReaderClosed = errors.New("zstd: reader closed")

// quitReader fails every Read once quit is closed, so that Close stops the
// splitter within one Read of the input, not after the rest of a frame (up
// to 4 MiB) or a run of skippable frames read off a slow input.
type quitReader struct {
	r    io.Reader
	quit <-chan struct{}
}

func (q quitReader) Read(p []byte) (int, error) {
	select {
	case <-q.quit:
		return 0, errReaderClosed
	default:
		return q.r.Read(p)
	}
}

// split reads frames off the input and hands them, in order, to the
// workers and the reading side. It stops at the end of the stream, at an
// error, or at the first frame to stream.
func (z *ZstdReader) split() {
	defer z.wg.Done()
	defer close(z.work)
	defer close(z.order)
	for {
		var f *zframe
		select {
		case f = <-z.free:
		case <-z.quit:
			return
		}
		select { // a free frame and quit may both be ready: quit wins
		case <-z.quit:
			return
		default:
		}
		f.err, f.tail, f.end, f.done = nil, nil, false, make(chan struct{})
		var kind frameKind
		kind, f.in, f.size, f.err = readFrame(z.br, f.in[:0], MaxChunkSize, maxFrameSize)
		for f.err == nil && kind == frameSkippable {
			kind, f.in, f.size, f.err = readFrame(z.br, f.in[:0], MaxChunkSize, maxFrameSize)
		}
		switch {
		case f.err != nil, kind == frameEnd:
			f.end = f.err == nil
			close(f.done)
			z.order <- f
			return
		case kind == frameTooBig:
			f.tail = io.MultiReader(bytes.NewReader(f.in), z.br)
			close(f.done)
			z.order <- f
			return
		}
		z.order <- f
		z.work <- f
	}
}

func (z *ZstdReader) decode() {
	defer z.wg.Done()
	for f := range z.work {
		select {
		case <-z.quit:
		default:
			if cap(f.out) < f.size {
				f.out = make([]byte, 0, f.size)
			}
			var err error
			f.out, err = z.dec.DecodeAll(f.in, f.out[:0])
			switch {
			case err != nil:
				f.err = err
			case len(f.out) != f.size:
				f.err = fmt.Errorf("%w: frame holds %d bytes, its header says %d", errCorrupt, len(f.out), f.size)
			}
		}
		close(f.done)
	}
}

// next makes z.rest the next frame's content. It returns io.EOF at the
// clean end of the stream.
func (z *ZstdReader) next() error {
	if z.cur != nil {
		z.free <- z.cur
		z.cur = nil
	}
	f, ok := <-z.order
	if !ok {
		return io.EOF
	}
	<-f.done
	switch {
	case f.err != nil:
		return f.err
	case f.tail != nil:
		dec, err := zstd.NewReader(f.tail,
			zstd.WithDecoderConcurrency(2), // decodes the next block while the last one is copied out
			zstd.WithDecoderMaxWindow(MaxWindow),
		)
		if err != nil {
			return err
		}
		z.stream = dec
		return nil
	case f.end:
		return io.EOF
	}
	z.cur, z.rest = f, f.out
	return nil
}

// Read implements io.Reader.
func (z *ZstdReader) Read(p []byte) (int, error) {
	for {
		if z.err != nil {
			return 0, z.err
		}
		if z.stream != nil {
			n, err := z.stream.Read(p)
			if err != nil {
				z.err = err
			}
			return n, err
		}
		if len(z.rest) > 0 {
			n := copy(p, z.rest)
			z.rest = z.rest[n:]
			return n, nil
		}
		if len(p) == 0 {
			return 0, nil
		}
		z.err = z.next()
	}
}

// WriteTo writes the decompressed stream to w, each frame's content in one
// Write, saving the copy that Read needs.
func (z *ZstdReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for {
		if z.err != nil {
			if z.err == io.EOF {
				return n, nil
			}
			return n, z.err
		}
		if z.stream != nil {
			k, err := z.stream.WriteTo(w)
			n += k
			if err == nil {
				err = io.EOF
			}
			z.err = err
			continue
		}
		if len(z.rest) > 0 {
			k, err := w.Write(z.rest)
			n += int64(k)
			z.rest = z.rest[k:]
			if err != nil {
				z.err = err
			}
			continue
		}
		z.err = z.next()
	}
}

// Close stops decoding and waits for the goroutines. It does not close the
// underlying reader.
func (z *ZstdReader) Close() {
	if z.closed {
		return
	}
	z.closed = true
	// The splitter and the workers never block on a send (each channel
	// holds every frame there is); quit stops the splitter waiting for a
	// free frame and the workers decoding.
	close(z.quit)
	z.wg.Wait()
	if z.stream != nil {
		z.stream.Close()
	}
	z.dec.Close()
	if z.err == nil {
		z.err = errReaderClosed
	}
}
