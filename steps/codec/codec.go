// Package codec compresses and decompresses backup streams: zstd (the
// default) and gzip, in bounded memory.
//
// zstd streams are written as a series of independent frames, one per chunk
// of input (1 MiB by default), each compressed by one of several workers at
// once. The result is an ordinary zstd stream: `zstd -d` reads concatenated
// frames as one. Reading uses the same independence: frames that carry
// their size and are at most MaxChunkSize are decoded by several workers at
// once; any other frame (a single large frame from the zstd CLI or an older
// sluice backup) switches the rest of the stream to one streaming decoder.
package codec

import (
	"bytes"
	"runtime"
)

// Algorithms.
const (
	Zstd = "zstd"
	Gzip = "gzip"
)

// DefaultZstdLevel is the zstd level used when none is given: 1,
// klauspost/compress's "fastest" speed. A backup shares the machine with
// pg_dump and the database server, so the codec must keep up with pg_dump
// while using as little CPU as it can; on the benchmark's data level 1 also
// compresses better than level 3 (see docs/performance.md).
const DefaultZstdLevel = 1

// DefaultGzipLevel is the gzip level used when none is given: 1, for the
// same throughput-first reason (gzip's own default, 6, is several times
// slower).
const DefaultGzipLevel = 1

// MaxEncodeWorkers caps the default number of compressing workers: four
// workers at level 1 compress faster than one pg_dump produces, so more
// would only hold more memory.
const MaxEncodeWorkers = 4

var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}
)

// Detect names the algorithm whose magic bytes start head (at least four
// bytes of a stream), or returns "".
func Detect(head []byte) string {
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	}
	return ""
}

// EncodeWorkers is the default number of chunks compressed at once, chosen
// from GOMAXPROCS: GOMAXPROCS-2 (a core each left to pg_dump and the
// database server, which usually share the host during a backup), but at
// least 2 and at most MaxEncodeWorkers. On a 2-core machine that is 2: the
// operating system shares both cores between the workers, pg_dump and the
// server, and compression, the stage that needs the most CPU, can use
// whichever core the others leave idle. With GOMAXPROCS=1 it is 1.
func EncodeWorkers() int {
	return encodeWorkers(runtime.GOMAXPROCS(0))
}

func encodeWorkers(procs int) int {
	if procs <= 1 {
		return 1
	}
	return min(max(procs-2, 2), MaxEncodeWorkers)
}

// DecodeWorkers is the default number of frames decoded at once: GOMAXPROCS,
// at most MaxEncodeWorkers (decoding is several times faster than encoding,
// so a few workers outpace any restore).
func DecodeWorkers() int {
	return min(runtime.GOMAXPROCS(0), MaxEncodeWorkers)
}
