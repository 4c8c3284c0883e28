package agefile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

func encryptTo(t *testing.T, plain []byte, r age.Recipient) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newX25519(t *testing.T) *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newHybrid(t *testing.T) *age.HybridIdentity {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type rewrapCase struct {
	name     string
	old, new age.Identity
	oldR     age.Recipient
	newR     age.Recipient
	sameSize bool
}

// TestRewrap moves files between X25519 and hybrid keys and checks that the
// new identity opens them, the old one no longer does, and the payload is
// byte for byte the same.
func TestRewrap(t *testing.T) {
	plain := make([]byte, 200<<10)
	rand.Read(plain)
	var cases []rewrapCase
	x1, x2, h1, h2 := newX25519(t), newX25519(t), newHybrid(t), newHybrid(t)
	cases = append(cases,
		rewrapCase{"x25519 to x25519", x1, x2, x1.Recipient(), x2.Recipient(), true},
		rewrapCase{"hybrid to hybrid", h1, h2, h1.Recipient(), h2.Recipient(), true},
		rewrapCase{"hybrid to x25519 (padded)", h1, x2, h1.Recipient(), x2.Recipient(), true},
		rewrapCase{"x25519 to hybrid (grows)", x1, h2, x1.Recipient(), h2.Recipient(), false},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := encryptTo(t, plain, c.oldR)
			h, n, err := Parse(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			size := int(n)
			if !c.sameSize {
				size = 0
			}
			nh, err := Rewrap(h, []age.Identity{c.old}, []age.Recipient{c.newR}, size)
			if err != nil {
				t.Fatal(err)
			}
			if c.sameSize && len(nh) != int(n) {
				t.Fatalf("new header is %d bytes, want %d", len(nh), n)
			}
			out := append(append([]byte{}, nh...), file[n:]...)
			r, err := age.Decrypt(bytes.NewReader(out), c.new)
			if err != nil {
				t.Fatalf("new identity: %v", err)
			}
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("new identity decrypts %d bytes, err %v", len(got), err)
			}
			if _, err := age.Decrypt(bytes.NewReader(out), c.old); err == nil {
				t.Error("retired identity still opens the rewrapped file")
			}
			var noMatch *age.NoIdentityMatchError
			if _, err := age.Decrypt(bytes.NewReader(out), c.old); !errors.As(err, &noMatch) {
				t.Errorf("retired identity: %v, want no identity match", err)
			}
		})
	}
}

// TestPadSizes pads a header to every size from MinPad to a few body lines
// past its length and checks the exact size and that age still parses it.
func TestPadSizes(t *testing.T) {
	id := newX25519(t)
	file := encryptTo(t, []byte("x"), id.Recipient())
	h0, n, err := Parse(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for gap := MinPad; gap < MinPad+300; gap++ {
		nh, err := Rewrap(h0, []age.Identity{id}, []age.Recipient{id.Recipient()}, int(n)+gap)
		if err != nil {
			t.Fatalf("gap %d: %v", gap, err)
		}
		if len(nh) != int(n)+gap {
			t.Fatalf("gap %d: header is %d bytes, want %d", gap, len(nh), int(n)+gap)
		}
		out := append(nh, file[n:]...)
		if _, err := age.Decrypt(bytes.NewReader(out), id); err != nil {
			t.Fatalf("gap %d: age refuses the padded header: %v", gap, err)
		}
	}
	for _, gap := range []int{1, MinPad - 1} {
		if _, err := Rewrap(h0, []age.Identity{id}, []age.Recipient{id.Recipient()}, int(n)+gap); err == nil {
			t.Errorf("gap %d: padding succeeded, want an error", gap)
		}
	}
}

// TestTamperedHeader checks that a modified header fails its MAC.
func TestTamperedHeader(t *testing.T) {
	id := newX25519(t)
	file := encryptTo(t, []byte("x"), id.Recipient())
	h, _, err := Parse(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	h.Stanzas = append(h.Stanzas, &age.Stanza{Type: "extra"})
	if _, err := Unwrap(h, id); !errors.Is(err, ErrMAC) {
		t.Errorf("Unwrap of a tampered header = %v, want ErrMAC", err)
	}
	if _, err := Wrap(make([]byte, 16), id.Recipient(), newHybrid(t).Recipient()); err == nil {
		t.Error("Wrap mixed post-quantum and classic recipients")
	}
}
