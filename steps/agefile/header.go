// Package agefile seals and opens age v1 files
// (https://age-encryption.org/v1): the recipients of a key store or listed
// ones, the identities of a store or of identity files, opening a stream
// with an error that names the key it needs when none of ours opens it,
// and the header: one parser and encoder, and re-wrap. A re-wrap recovers
// the file key with one identity and wraps it again for new recipients,
// under a new header MAC, while the payload (nonce and STREAM chunks) stays
// byte for byte the same, because the payload key derives only from the
// file key and the nonce.
//
// filippo.io/age keeps its header codec internal, so this package
// implements the encoding and the MAC from the specification; its tests
// check them against the C2SP/CCTV age test vectors.
package agefile

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// Version is the first line of every age v1 file, without its newline.
const Version = "age-encryption.org/v1"

const (
	// columns is the width of a full stanza body line.
	columns = 64
	// MaxSize bounds the headers this package reads.
	MaxSize = 2 << 20
	// macSize is the length of the header MAC (HMAC-SHA-256).
	macSize = 32
)

var b64 = base64.RawStdEncoding.Strict()

// ErrFormat is matched (errors.Is) by every error about a malformed header.
var ErrFormat = errors.New("malformed age header")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Header is a parsed age header: its recipient stanzas and its MAC.
type Header struct {
	Stanzas []*age.Stanza
	MAC     []byte
}

// Parse reads the header at the start of r. It returns the header and its
// encoded length in bytes (where the payload starts). It reads at most a few
// KiB past the header's end from r.
func Parse(r io.Reader) (*Header, int64, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxSize), 4096)
	var n int64
	readLine := func() (string, error) {
		line, err := br.ReadString('\n')
		n += int64(len(line))
		if err == io.EOF {
			if n >= MaxSize {
				return "", formatErr("header is larger than %d bytes", MaxSize)
			}
			return "", formatErr("header ends before its MAC line")
		}
		if err != nil {
			return "", err
		}
		return line[:len(line)-1], nil
	}
	line, err := readLine()
	if err != nil {
		return nil, 0, err
	}
	if line != Version {
		return nil, 0, formatErr("first line is not %q: not an age v1 file", Version)
	}
	h := &Header{}
	for {
		line, err := readLine()
		if err != nil {
			return nil, 0, err
		}
		if strings.HasPrefix(line, "---") {
			mac, ok := strings.CutPrefix(line, "--- ")
			if !ok {
				return nil, 0, formatErr("MAC line does not start with \"--- \"")
			}
			h.MAC, err = b64.DecodeString(mac)
			if err != nil || len(h.MAC) != macSize || strings.ContainsAny(mac, "\r") {
				return nil, 0, formatErr("MAC is not %d bytes of canonical unpadded base64", macSize)
			}
			if len(h.Stanzas) == 0 {
				return nil, 0, formatErr("no recipient stanza")
			}
			return h, n, nil
		}
		s, err := parseStanzaLine(line)
		if err != nil {
			return nil, 0, err
		}
		for {
			body, err := readLine()
			if err != nil {
				return nil, 0, err
			}
			if len(body) > columns || strings.ContainsAny(body, "\r") {
				return nil, 0, formatErr("stanza %s: body line longer than %d columns", s.Type, columns)
			}
			b, err := b64.DecodeString(body)
			if err != nil {
				return nil, 0, formatErr("stanza %s: body is not canonical unpadded base64", s.Type)
			}
			s.Body = append(s.Body, b...)
			if len(body) < columns {
				break // a body ends with its first short (maybe empty) line
			}
		}
		h.Stanzas = append(h.Stanzas, s)
	}
}

// parseStanzaLine parses "-> TYPE ARG...".
func parseStanzaLine(line string) (*age.Stanza, error) {
	rest, ok := strings.CutPrefix(line, "-> ")
	if !ok {
		return nil, formatErr("line %q is neither a stanza nor the MAC line", short(line))
	}
	args := strings.Split(rest, " ")
	for _, a := range args {
		if !validArg(a) {
			return nil, formatErr("stanza line %q has an empty argument or a character outside printable ASCII", short(line))
		}
	}
	return &age.Stanza{Type: args[0], Args: args[1:]}, nil
}

// validArg reports whether a is a non-empty string of VCHARs (0x21-0x7e).
func validArg(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < 0x21 || a[i] > 0x7e {
			return false
		}
	}
	return true
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Describe summarises the recipient stanzas for an error message, e.g.
// "1 recipient (mlkem768x25519)" or "2 recipients (X25519, ssh-ed25519 tag
// Ab12Cd)". X25519 and hybrid stanzas do not name their recipient (the key
// ids a backup needs come from its manifest); ssh stanzas carry a short
// public tag of their key.
func (h *Header) Describe() string {
	parts := make([]string, len(h.Stanzas))
	for i, s := range h.Stanzas {
		parts[i] = s.Type
		if strings.HasPrefix(s.Type, "ssh-") && len(s.Args) > 0 {
			parts[i] += " tag " + s.Args[0]
		}
	}
	noun := "recipients"
	if len(parts) == 1 {
		noun = "recipient"
	}
	return fmt.Sprintf("%d %s (%s)", len(parts), noun, strings.Join(parts, ", "))
}

// MarshalWithoutMAC encodes the header up to and including "---": the bytes
// the MAC covers.
func (h *Header) MarshalWithoutMAC() ([]byte, error) {
	if len(h.Stanzas) == 0 {
		return nil, errors.New("encoding age header: no recipient stanza")
	}
	var b bytes.Buffer
	b.WriteString(Version + "\n")
	for _, s := range h.Stanzas {
		if err := writeStanza(&b, s); err != nil {
			return nil, fmt.Errorf("encoding age header: %w", err)
		}
	}
	b.WriteString("---")
	return b.Bytes(), nil
}

// Marshal encodes the whole header, MAC line included.
func (h *Header) Marshal() ([]byte, error) {
	if len(h.MAC) != macSize {
		return nil, fmt.Errorf("encoding age header: MAC is %d bytes, want %d", len(h.MAC), macSize)
	}
	b, err := h.MarshalWithoutMAC()
	if err != nil {
		return nil, err
	}
	return append(append(b, ' '), b64.EncodeToString(h.MAC)+"\n"...), nil
}

// writeStanza encodes one stanza: its line, then its body in lines of 64
// columns, the last one always shorter (possibly empty).
func writeStanza(b *bytes.Buffer, s *age.Stanza) error {
	if !validArg(s.Type) {
		return fmt.Errorf("stanza type %q is not a non-empty printable ASCII string", s.Type)
	}
	b.WriteString("-> " + s.Type)
	for _, a := range s.Args {
		if !validArg(a) {
			return fmt.Errorf("stanza %s: argument %q is not a non-empty printable ASCII string", s.Type, short(a))
		}
		b.WriteString(" " + a)
	}
	b.WriteByte('\n')
	enc := b64.EncodeToString(s.Body)
	for len(enc) >= columns {
		b.WriteString(enc[:columns] + "\n")
		enc = enc[columns:]
	}
	b.WriteString(enc + "\n")
	return nil
}
