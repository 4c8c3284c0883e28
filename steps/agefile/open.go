package agefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
)

// ErrEmpty is returned by Open when the stream holds no byte at all.
var ErrEmpty = errors.New("input is empty: the upstream step produced no bytes")

// NoKeyError is returned by Open when none of the identities opens the
// stream: the file may be sound, but it was not checked. Its message says
// which keys the file is encrypted to, which were tried and where, and
// which key it needs.
type NoKeyError struct{ msg string }

func (e *NoKeyError) Error() string { return e.msg }

// Reader is an open age stream: reading it yields the plaintext.
type Reader struct {
	src    *source
	r      io.Reader
	keyIDs []string
}

// Open starts decrypting the age stream r with ids. expectKeyIDs are the
// key ids the stream was encrypted to, e.g. from its manifest (may be
// empty); they only explain a failure: when none of ids opens the stream
// the *NoKeyError names them, and when one of them is among ids the header
// is reported damaged rather than the key wrong.
//
// An error of r itself is returned as it is, never as a fault of the data.
// Any other error, from Open or later from Read, starts "backup is
// truncated or corrupted: ".
func Open(r io.Reader, ids *Identities, expectKeyIDs []string) (*Reader, error) {
	matchers := make([]*matchingIdentity, len(ids.ids))
	wrapped := make([]age.Identity, len(ids.ids))
	for i, id := range ids.ids {
		matchers[i] = &matchingIdentity{id: id}
		wrapped[i] = matchers[i]
	}
	// The header is kept to explain a key mismatch; age reads it whole
	// before it tries a key.
	src := &source{r: r, max: MaxSize}
	ar, err := age.Decrypt(src, wrapped...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		switch {
		case src.err != nil:
			return nil, src.err
		case src.n == 0:
			return nil, ErrEmpty
		case errors.As(err, &noMatch):
			return nil, ids.noMatch(src.head.Bytes(), expectKeyIDs)
		default:
			return nil, corrupted(err)
		}
	}
	src.stopKeeping()
	rd := &Reader{src: src, r: ar}
	for i, m := range matchers {
		if m.matched {
			rd.keyIDs = append(rd.keyIDs, ids.infos[i].ID)
		}
	}
	return rd, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		if r.src.err != nil {
			return n, r.src.err
		}
		return n, corrupted(err)
	}
	return n, err
}

// KeyIDs returns the ids of the keys that opened the stream.
func (r *Reader) KeyIDs() []string { return r.keyIDs }

func corrupted(err error) error {
	return fmt.Errorf("backup is truncated or corrupted: %w", err)
}

// noMatch explains which keys the file needs and which were tried. When a
// tried key is one the file was encrypted to, the key is right and the
// header is damaged.
func (ids *Identities) noMatch(header []byte, expect []string) error {
	for _, k := range ids.infos {
		if slices.Contains(expect, k.ID) {
			return corrupted(fmt.Errorf("its header does not open with key %s, which it was encrypted to: the file was damaged or modified", k.ID))
		}
	}
	var b strings.Builder
	b.WriteString("no key opens this backup")
	if h, _, err := Parse(bytes.NewReader(header)); err == nil {
		fmt.Fprintf(&b, ": it is encrypted to %s", h.Describe())
		if slices.ContainsFunc(h.Stanzas, func(s *age.Stanza) bool { return s.Type == "scrypt" }) {
			b.WriteString(", with a passphrase, which sluice does not use")
		}
	}
	var names []string
	for _, k := range ids.infos {
		n := k.ID
		if k.State != "" {
			n += " (" + k.State + ")"
		}
		names = append(names, n)
	}
	fmt.Fprintf(&b, "; tried %s of %s", strings.Join(names, ", "), ids.source)
	if len(expect) > 0 {
		fmt.Fprintf(&b, "; it needs %s: use the key store that holds it", strings.Join(expect, " or "))
	} else {
		b.WriteString(": check the key_ids in the backup's manifest and use the key store that holds them")
	}
	return &NoKeyError{msg: b.String()}
}

// matchingIdentity records whether its identity unwrapped the file key.
type matchingIdentity struct {
	id      age.Identity
	matched bool
}

func (m *matchingIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	key, err := m.id.Unwrap(stanzas)
	if err == nil {
		m.matched = true
	}
	return key, err
}

// source reads the stream, counts its bytes, remembers its first error
// (other than io.EOF) and keeps its first max bytes until stopKeeping: the
// public header, to explain a key mismatch.
type source struct {
	r    io.Reader
	n    int64
	err  error
	max  int
	head bytes.Buffer
}

func (s *source) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.n += int64(n)
	if room := s.max - s.head.Len(); room > 0 {
		s.head.Write(b[:min(n, room)])
	}
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *source) stopKeeping() {
	s.max, s.head = 0, bytes.Buffer{}
}
