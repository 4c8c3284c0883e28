package pg

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSniffFormat(t *testing.T) {
	custom, plain := "PGDMP\x01\x0e\x00", "--\n-- PostgreSQL database dump\n--\n"
	for _, tt := range []struct{ in, want, got, err string }{
		{custom, "custom", "custom", ""},
		{custom, "auto", "custom", ""},
		{plain, "auto", "plain", ""},
		{plain, "plain", "plain", ""},
		{custom, "plain", "", "format is plain"},
		{"age-encryption.org/v1\n", "custom", "", "no PGDMP header"},
		{"", "auto", "", "input stream is empty"},
		{"PG", "auto", "plain", ""}, // too short for the header: not custom
	} {
		br := bufio.NewReader(strings.NewReader(tt.in))
		got, err := SniffFormat(br, tt.want)
		if got != tt.got || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("SniffFormat(%q, %s) = %q, %v; want %q, %q", tt.in, tt.want, got, err, tt.got, tt.err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != tt.in {
			t.Errorf("SniffFormat(%q) consumed input: %q left", tt.in, rest)
		}
	}
	boom := errors.New("decrypt: no identity matched")
	if _, err := SniffFormat(bufio.NewReader(failing{boom}), "auto"); !errors.Is(err, boom) || !strings.Contains(err.Error(), "upstream step failed") {
		t.Errorf("SniffFormat of a failing stream = %v", err)
	}
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }
