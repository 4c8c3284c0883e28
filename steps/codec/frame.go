package codec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The zstd frame format (RFC 8878, section 3.1): what readFrame needs to
// find where a frame ends without decoding it.
const (
	zstdFrameMagic     = 0xFD2FB528
	skippableMagicMask = 0xFFFFFFF0
	skippableMagic     = 0x184D2A50
	blockHeaderSize    = 3
	maxBlockSize       = 128 << 10
	checksumSize       = 4
)

// errCorrupt marks a stream that is not zstd where a frame should start or
// whose frame structure is broken.
var errCorrupt = errors.New("zstd: corrupted stream")

// frameKind says what readFrame found.
type frameKind int

const (
	frameEnd       frameKind = iota // clean end of stream: no more frames
	frameWhole                      // a whole frame with its content size, within the limits
	frameSkippable                  // a skippable frame, already discarded
	frameTooBig                     // a frame without content size or larger than the limits: buf holds what was read of it
)

// readFrame reads the next frame from br and appends its bytes to buf. A
// frame whose header declares no content size, or a content size above
// maxContent, or whose compressed size grows past maxFrame, is frameTooBig:
// buf then holds the bytes of it read so far, for a streaming decoder to
// continue from. size is the declared content size of a frameWhole.
func readFrame(br *bufio.Reader, buf []byte, maxContent, maxFrame int) (kind frameKind, out []byte, size int, err error) {
	start := len(buf)
	buf, err = appendFull(br, buf, 4)
	if err != nil {
		if errors.Is(err, io.EOF) && len(buf) == start {
			return frameEnd, buf, 0, nil
		}
		return 0, buf, 0, truncated(err)
	}
	magic := binary.LittleEndian.Uint32(buf[start:])
	if magic&skippableMagicMask == skippableMagic {
		buf, err = appendFull(br, buf, 4)
		if err != nil {
			return 0, buf, 0, truncated(err)
		}
		n := int64(binary.LittleEndian.Uint32(buf[start+4:]))
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			return 0, buf, 0, truncated(err)
		}
		return frameSkippable, buf[:start], 0, nil
	}
	if magic != zstdFrameMagic {
		return 0, buf, 0, fmt.Errorf("%w: no frame starts at this point (bytes %x)", errCorrupt, buf[start:start+4])
	}

	buf, err = appendFull(br, buf, 1)
	if err != nil {
		return 0, buf, 0, truncated(err)
	}
	fhd := buf[len(buf)-1]
	fcsFlag, single, hasSum, didFlag := fhd>>6, fhd&0x20 != 0, fhd&0x04 != 0, fhd&0x03
	if fhd&0x08 != 0 {
		return 0, buf, 0, fmt.Errorf("%w: reserved bit set in frame header", errCorrupt)
	}
	fcsSize := [4]int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 && single {
		fcsSize = 1
	}
	hdr := [4]int{0, 1, 2, 4}[didFlag] + fcsSize
	if !single {
		hdr++ // window descriptor
	}
	buf, err = appendFull(br, buf, hdr)
	if err != nil {
		return 0, buf, 0, truncated(err)
	}
	if fcsSize == 0 {
		return frameTooBig, buf, 0, nil
	}
	// A frame may ask for a window larger than its content; the decoder of
	// whole frames is limited to maxContent, so such a frame is streamed.
	if !single && frameWindowSize(buf[start+5]) > uint64(maxContent) {
		return frameTooBig, buf, 0, nil
	}
	fcs := buf[len(buf)-fcsSize:]
	var content uint64
	switch fcsSize {
	case 1:
		content = uint64(fcs[0])
	case 2:
		content = uint64(binary.LittleEndian.Uint16(fcs)) + 256
	case 4:
		content = uint64(binary.LittleEndian.Uint32(fcs))
	case 8:
		content = binary.LittleEndian.Uint64(fcs)
	}
	if content > uint64(maxContent) {
		return frameTooBig, buf, 0, nil
	}

	for {
		if len(buf)-start > maxFrame {
			return frameTooBig, buf, 0, nil
		}
		buf, err = appendFull(br, buf, blockHeaderSize)
		if err != nil {
			return 0, buf, 0, truncated(err)
		}
		h := buf[len(buf)-blockHeaderSize:]
		bh := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		last, typ, n := bh&1 != 0, (bh>>1)&3, int(bh>>3)
		switch typ {
		case 1: // RLE: one byte, repeated n times
			n = 1
		case 3:
			return 0, buf, 0, fmt.Errorf("%w: reserved block type", errCorrupt)
		}
		if n > maxBlockSize {
			return 0, buf, 0, fmt.Errorf("%w: block of %d bytes is larger than zstd allows", errCorrupt, n)
		}
		buf, err = appendFull(br, buf, n)
		if err != nil {
			return 0, buf, 0, truncated(err)
		}
		if last {
			break
		}
	}
	if hasSum {
		buf, err = appendFull(br, buf, checksumSize)
		if err != nil {
			return 0, buf, 0, truncated(err)
		}
	}
	return frameWhole, buf, int(content), nil
}

// frameWindowSize decodes a frame header's window descriptor (RFC 8878,
// 3.1.1.1.2).
func frameWindowSize(wd byte) uint64 {
	base := uint64(1) << (10 + wd>>3)
	return base + base/8*uint64(wd&7)
}

// appendFull appends exactly n bytes read from br to buf.
func appendFull(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	l := len(buf)
	buf = grow(buf, n)
	k, err := io.ReadFull(br, buf[l:l+n])
	return buf[:l+k], err
}

// grow extends buf's length by n, reallocating when its capacity is short.
func grow(buf []byte, n int) []byte {
	if need := len(buf) + n; need > cap(buf) {
		nb := make([]byte, len(buf), max(need, 2*cap(buf)))
		copy(nb, buf)
		buf = nb
	}
	return buf[:len(buf)+n]
}

// truncated turns an end of input inside a frame into io.ErrUnexpectedEOF;
// any other error (the input stream's own) stays as it is.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("zstd: stream ends inside a frame: %w", io.ErrUnexpectedEOF)
	}
	return err
}
