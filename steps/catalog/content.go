package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/codec"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// undoStages returns the stages of m a content check undoes, last stage
// first (checksum stages change nothing). When one cannot be undone (an
// encrypted backup without keys, a stage verify does not know), it returns
// none and a note saying why the check stops at the digest.
func undoStages(m *manifest.Manifest, haveKeys bool) ([]manifest.Stage, string) {
	var undo []manifest.Stage
	for i := len(m.Stages) - 1; i >= 1; i-- {
		st := m.Stages[i]
		switch st.Type {
		case "checksum":
		case "encrypt":
			if !haveKeys {
				return nil, "encrypted: give a key store or identity to check its content"
			}
			undo = append(undo, st)
		case "compress":
			undo = append(undo, st)
		default:
			return nil, fmt.Sprintf("stage %q (%s) cannot be undone by verify: content not checked", st.ID, st.Type)
		}
	}
	return undo, ""
}

// content is what a content check found.
type content struct {
	bytes  int64    // plaintext bytes
	keyIDs []string // the keys that opened it
}

// layer is one reader of a content check: the stored bytes, or a stage
// undone over the layer below. It keeps the first error it returned.
type layer struct {
	r       io.Reader
	err     error
	explain func(error) error // turns the layer's own error into the check's
}

func (l *layer) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	return n, err
}

// checkContent undoes the stages undo (see undoStages) over the
// digest-checked bytes of obj and reads the content to its end into
// nothing, so that age's authentication tags and the compression frames
// are all checked; nothing is written anywhere. need are the key ids the
// manifest records. Whatever fails, the whole object is read, so its digest
// verdict is known, and the first failure in stream order is returned: a
// corrupted object is a digest mismatch, deterministically, not whichever
// decoder tripped first, and a stage's failure is the cause only when the
// bytes below it were good.
func checkContent(obj *CheckedObject, undo []manifest.Stage, need []string, k *Keys) (content, error) {
	var c content
	layers := []*layer{{r: obj, explain: func(err error) error { return err }}}
	// Decoders read their input on goroutines of their own: stopped, the
	// layers below are ours to drain and their errors settled.
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		stops = nil
	}
	defer stop()
	var err error
	for _, st := range undo {
		below := layers[len(layers)-1]
		l := &layer{}
		switch st.Type {
		case "encrypt":
			// agefile's errors say what is wrong with the stream.
			l.r, c.keyIDs, err = openAge(below, need, k)
			l.explain = func(err error) error { return err }
		case "compress":
			alg, _ := st.Outputs["algorithm"].(string)
			var closer func()
			l.r, alg, closer, err = decompress(below, alg)
			if closer != nil {
				stops = append(stops, closer)
			}
			l.explain = func(err error) error {
				return fmt.Errorf("compressed input is truncated or corrupted: %s: %w", alg, err)
			}
		}
		if err != nil {
			l.err = err
			l.explain = func(err error) error { return err }
			layers = append(layers, l)
			break
		}
		layers = append(layers, l)
	}
	if err == nil {
		top := layers[len(layers)-1]
		c.bytes, _ = io.Copy(io.Discard, top)
		stop()
		// What follows the end of a format is not part of the backup.
		for i := len(layers) - 1; i >= 1 && top.err == nil; i-- {
			if n, _ := io.Copy(io.Discard, layers[i-1]); n > 0 && layers[i].err == nil {
				layers[i].err = fmt.Errorf("%d bytes follow the end of the stream", n)
				layers[i].explain = func(err error) error { return err }
			}
		}
	}
	stop()
	io.Copy(io.Discard, obj)
	if obj.err != nil {
		return c, obj.err
	}
	for _, l := range layers[1:] {
		if l.err != nil {
			return c, l.explain(l.err)
		}
	}
	return c, nil
}

// openAge opens the age stream r with k's identities and returns the ids
// of the keys that opened it.
func openAge(r io.Reader, need []string, k *Keys) (io.Reader, []string, error) {
	ids, err := k.load(need)
	if err != nil {
		return nil, nil, err
	}
	ar, err := agefile.Open(r, ids, need)
	if err != nil {
		return nil, nil, err
	}
	return ar, ar.KeyIDs(), nil
}

// decompress returns a reader of the content the compressed stream r holds
// (alg is what the compress stage recorded: zstd, gzip, or empty to tell by
// the magic bytes), the algorithm, and a function that stops its decoder.
func decompress(r io.Reader, alg string) (io.Reader, string, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, alg, nil, err
	}
	if alg == "" {
		if alg = codec.Detect(magic); alg == "" {
			return nil, alg, nil, fmt.Errorf("compressed content is neither zstd nor gzip (it starts with %x)", magic)
		}
	}
	switch alg {
	case codec.Zstd:
		dec, err := codec.NewZstdReader(br, codec.ZstdReaderOptions{})
		if err != nil {
			return nil, alg, nil, err
		}
		return dec, alg, dec.Close, nil
	case codec.Gzip:
		dec, err := codec.NewGzipReader(br)
		if err != nil {
			return nil, alg, nil, fmt.Errorf("compressed input is truncated or corrupted: gzip: %w", err)
		}
		return dec, alg, nil, nil
	}
	return nil, alg, nil, fmt.Errorf("its compress stage records algorithm %q, which is not zstd or gzip", alg)
}
