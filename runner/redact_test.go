package runner

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	r := NewRedactor("pass", "", "password123", "s3cr3t", "pass")
	cases := map[string]string{
		"user:password123@host": "user:***@host",
		"pass then pass":        "*** then ***",
		"s3cr3ts3cr3t":          "******",
		"nothing here":          "nothing here",
		"":                      "",
	}
	for in, want := range cases {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	var none *Redactor
	if got := none.Redact("pass"); got != "pass" {
		t.Errorf("nil redactor changed %q", got)
	}
	if got := NewRedactor().Redact("pass"); got != "pass" {
		t.Errorf("empty redactor changed %q", got)
	}
}

func TestRedactWriterSplitWrites(t *testing.T) {
	var out strings.Builder
	w := NewRedactor("hunter2-secret").Writer(&out)
	for _, chunk := range []string{"login with hun", "ter2-", "secret ok\nnext ", "line hunter2-se", "cret\n", "tail hunter2-secret"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "login with *** ok\nnext line ***\n"; got != want {
		t.Errorf("after complete lines: %q, want %q", got, want)
	}
	if err := w.(interface{ Flush() error }).Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "login with *** ok\nnext line ***\ntail ***"; got != want {
		t.Errorf("after Flush: %q, want %q", got, want)
	}
}

// TestRedactWriterLongLine writes a line longer than the writer holds back,
// with a secret across the point where it starts writing.
func TestRedactWriterLongLine(t *testing.T) {
	secret := "topsecretvalue"
	var out strings.Builder
	w := NewRedactor(secret).Writer(&out)
	pad := strings.Repeat("x", maxPending-5)
	for _, chunk := range []string{pad, secret[:8], secret[8:], strings.Repeat("y", maxPending), "\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	got := out.String()
	if strings.Contains(got, secret) || strings.Contains(got, secret[:8]) {
		t.Errorf("secret or its start leaked in a long line")
	}
	if want := pad + Mask + strings.Repeat("y", maxPending) + "\n"; got != want {
		t.Errorf("long line: got %d bytes, want %d", len(got), len(want))
	}
}
