package keys

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// HeaderStanza is one recipient stanza of an age header, as far as it can be
// read without a key: its type (X25519, mlkem768x25519, ssh-ed25519,
// ssh-rsa, scrypt, ...) and, for ssh stanzas, the key tag (a short public
// fingerprint). X25519 and hybrid stanzas do not name their recipient: the
// key ids a backup needs come from its manifest.
type HeaderStanza struct {
	Type string
	Tag  string
}

// ErrNotAge is returned by ParseHeader when the data does not start with an
// age header.
var ErrNotAge = errors.New("not an age file (no age-encryption.org/v1 header)")

// ParseHeader reads the recipient stanzas from the start of an age file.
// data may be a prefix of the file; stanzas after its end are not reported.
// It reads only the public header, never the payload.
func ParseHeader(data []byte) ([]HeaderStanza, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	if !sc.Scan() || sc.Text() != "age-encryption.org/v1" {
		return nil, ErrNotAge
	}
	var out []HeaderStanza
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "---") {
			break
		}
		if !strings.HasPrefix(line, "-> ") {
			continue // a body line of the previous stanza
		}
		args := strings.Fields(strings.TrimPrefix(line, "-> "))
		if len(args) == 0 {
			continue
		}
		s := HeaderStanza{Type: args[0]}
		if strings.HasPrefix(s.Type, "ssh-") && len(args) > 1 {
			s.Tag = args[1]
		}
		out = append(out, s)
	}
	return out, nil
}

// DescribeStanzas summarises stanzas for an error message, e.g.
// "1 recipient (mlkem768x25519)" or "2 recipients (X25519, ssh-ed25519 tag
// Ab12Cd)".
func DescribeStanzas(ss []HeaderStanza) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Type
		if s.Tag != "" {
			parts[i] += " tag " + s.Tag
		}
	}
	noun := "recipients"
	if len(ss) == 1 {
		noun = "recipient"
	}
	return fmt.Sprintf("%d %s (%s)", len(ss), noun, strings.Join(parts, ", "))
}
