package agefile

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/age"
	"golang.org/x/crypto/hkdf"
)

// FileKeySize is the size of an age file key.
const FileKeySize = 16

// ErrMAC is returned when a header's MAC does not match the file key: the
// header was changed, or the wrong file key was used.
var ErrMAC = errors.New("age header MAC does not match: the header was modified or is corrupt")

// PadType is the stanza type of the padding stanza Pad adds. age
// implementations ignore stanzas of types they do not know.
const PadType = "sluice.dev/pad"

// MAC returns the header MAC for fileKey: HMAC-SHA-256, keyed with
// HKDF-SHA-256(ikm = file key, salt = empty, info = "header"), over the
// header up to and including "---".
func MAC(fileKey []byte, h *Header) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, fileKey, nil, []byte("header")), key); err != nil {
		return nil, err
	}
	data, err := h.MarshalWithoutMAC()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil), nil
}

// Unwrap recovers the file key with the first identity that opens one of the
// header's stanzas, and checks the header MAC with it. When no identity
// matches it returns an error matching age.ErrIncorrectIdentity.
func Unwrap(h *Header, ids ...age.Identity) ([]byte, error) {
	for _, s := range h.Stanzas {
		if s.Type == "scrypt" && len(h.Stanzas) != 1 {
			return nil, formatErr("an scrypt stanza must be the only one")
		}
	}
	for _, id := range ids {
		fk, err := id.Unwrap(slices.Clone(h.Stanzas))
		if errors.Is(err, age.ErrIncorrectIdentity) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("unwrapping the file key: %w", err)
		}
		mac, err := MAC(fk, h)
		if err != nil {
			return nil, err
		}
		if !hmac.Equal(mac, h.MAC) {
			return nil, ErrMAC
		}
		return fk, nil
	}
	return nil, fmt.Errorf("no identity opens the header (stanzas: %s): %w", stanzaTypes(h), age.ErrIncorrectIdentity)
}

func stanzaTypes(h *Header) string {
	var out []byte
	for i, s := range h.Stanzas {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, s.Type...)
	}
	return string(out)
}

// Wrap returns a new header that wraps fileKey for rs, with its MAC. Like
// age.Encrypt it refuses recipients whose labels differ (a post-quantum
// recipient mixed with a classic one).
func Wrap(fileKey []byte, rs ...age.Recipient) (*Header, error) {
	if len(rs) == 0 {
		return nil, errors.New("wrapping the file key: no recipient")
	}
	h := &Header{}
	var labels []string
	for i, r := range rs {
		var ss []*age.Stanza
		var l []string
		var err error
		if rl, ok := r.(age.RecipientWithLabels); ok {
			ss, l, err = rl.WrapWithLabels(fileKey)
		} else {
			ss, err = r.Wrap(fileKey)
		}
		if err != nil {
			return nil, fmt.Errorf("wrapping the file key for recipient %d: %w", i, err)
		}
		slices.Sort(l)
		if i == 0 {
			labels = l
		} else if !slices.Equal(labels, l) {
			return nil, errors.New("wrapping the file key: recipients cannot be mixed (post-quantum with classic): use one kind")
		}
		h.Stanzas = append(h.Stanzas, ss...)
	}
	mac, err := MAC(fileKey, h)
	if err != nil {
		return nil, err
	}
	h.MAC = mac
	return h, nil
}

// MinPad is the smallest number of bytes a padding stanza takes.
const MinPad = len("-> " + PadType + " x\n\n")

// Pad appends a padding stanza so that the encoded header is exactly size
// bytes long, and recomputes the MAC. It fails when the header is already
// longer than size or shorter by less than MinPad bytes.
func Pad(h *Header, fileKey []byte, size int) error {
	enc, err := h.Marshal()
	if err != nil {
		return err
	}
	gap := size - len(enc)
	if gap == 0 {
		return nil
	}
	if gap < MinPad {
		return fmt.Errorf("padding the age header to %d bytes: it is %d bytes, %d short needs at least %d", size, len(enc), gap, MinPad)
	}
	// The stanza is "-> TYPE ARG\n" then the body: choose the largest body
	// that leaves room for a one-character argument, then widen the
	// argument to fill what is left (at most a few characters).
	fixed := len("-> " + PadType + " \n")
	n := 0
	for bodyLen(n+1) <= gap-fixed-1 {
		n++
	}
	arg := make([]byte, gap-fixed-bodyLen(n))
	for i := range arg {
		arg[i] = 'p'
	}
	body := make([]byte, n)
	if _, err := rand.Read(body); err != nil {
		return err
	}
	h.Stanzas = append(h.Stanzas, &age.Stanza{Type: PadType, Args: []string{string(arg)}, Body: body})
	if h.MAC, err = MAC(fileKey, h); err != nil {
		return err
	}
	return nil
}

// bodyLen is the encoded length of a stanza body of n bytes, newlines
// included.
func bodyLen(n int) int {
	chars := b64.EncodedLen(n)
	return chars + chars/columns + 1
}

// Rewrap re-wraps an encoded header: it recovers the file key with ids,
// wraps it for rs and, when size > 0, pads the result to exactly size bytes.
// It returns the new encoded header. The payload that follows the header
// does not change.
func Rewrap(old *Header, ids []age.Identity, rs []age.Recipient, size int) ([]byte, error) {
	fk, err := Unwrap(old, ids...)
	if err != nil {
		return nil, err
	}
	defer clear(fk)
	h, err := Wrap(fk, rs...)
	if err != nil {
		return nil, err
	}
	if size > 0 {
		if err := Pad(h, fk, size); err != nil {
			return nil, err
		}
	}
	return h.Marshal()
}
