package agefile

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	agetest "c2sp.org/CCTV/age"
	"filippo.io/age"
)

// vector is one C2SP/CCTV age test vector (licensed 0BSD / CC0 /
// Unlicense; used through its Go module, not copied).
type vector struct {
	expect  string
	fileKey []byte
	ids     []age.Identity
	armored bool
	file    []byte
}

func parseVector(t *testing.T, data []byte) *vector {
	t.Helper()
	v := &vector{}
	compressed := false
	for {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			t.Fatal("vector has no blank line before its file")
		}
		data = rest
		if len(line) == 0 {
			break
		}
		key, value, _ := strings.Cut(string(line), ": ")
		switch key {
		case "expect":
			v.expect = value
		case "file key":
			v.fileKey, _ = hex.DecodeString(value)
		case "identity":
			id, err := age.ParseX25519Identity(value)
			if err != nil {
				id2, err2 := age.ParseHybridIdentity(value)
				if err2 != nil {
					t.Fatalf("identity: %v / %v", err, err2)
				}
				v.ids = append(v.ids, id2)
				continue
			}
			v.ids = append(v.ids, id)
		case "passphrase":
			id, err := age.NewScryptIdentity(value)
			if err != nil {
				t.Fatal(err)
			}
			v.ids = append(v.ids, id)
		case "armored":
			v.armored = true
		case "compressed":
			compressed = true
		}
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	v.file = data
	return v
}

// TestVectors checks the parser, the encoder and the MAC against every
// unarmored CCTV vector: headers that age accepts parse and re-encode to the
// same bytes; a success vector's file key is recovered and its MAC matches;
// an HMAC failure is reported as ErrMAC; a header failure is refused by the
// parser or by the identity.
func TestVectors(t *testing.T) {
	names, err := fs.ReadDir(agetest.Vectors, ".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range names {
		data, err := fs.ReadFile(agetest.Vectors, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		v := parseVector(t, data)
		if v.armored {
			continue
		}
		checked++
		t.Run(e.Name(), func(t *testing.T) {
			h, n, err := Parse(bytes.NewReader(v.file))
			if err != nil {
				if v.expect != "header failure" {
					t.Fatalf("Parse: %v; vector expects %s", err, v.expect)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("Parse error %v does not match ErrFormat", err)
				}
				return
			}
			enc, err := h.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, v.file[:n]) {
				t.Errorf("re-encoded header differs from the original:\n%q\n%q", enc, v.file[:n])
			}
			fk, err := Unwrap(h, v.ids...)
			switch v.expect {
			case "success", "payload failure":
				if err != nil {
					t.Fatalf("Unwrap: %v", err)
				}
				if !bytes.Equal(fk, v.fileKey) {
					t.Errorf("file key = %x, want %x", fk, v.fileKey)
				}
				mac, _ := MAC(fk, h)
				if !bytes.Equal(mac, h.MAC) {
					t.Error("MAC differs")
				}
			case "HMAC failure":
				if !errors.Is(err, ErrMAC) {
					t.Errorf("Unwrap = %v, want ErrMAC", err)
				}
			case "no match":
				if !errors.Is(err, age.ErrIncorrectIdentity) {
					t.Errorf("Unwrap = %v, want no match", err)
				}
			case "header failure":
				// A few header failures are a missing nonce after a valid
				// header: that is the payload reader's business.
				if err == nil && len(v.file)-int(n) >= 16 {
					t.Error("header failure vector parsed and unwrapped")
				}
			}
		})
	}
	if checked < 100 {
		t.Errorf("only %d vectors checked", checked)
	}
}
