package pg

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCheckRestrict(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{"15.14", true}, {"15.18", true}, {"15.13", false}, {"16.10", true}, {"16.9", false},
		{"17.6", true}, {"14.19", true}, {"13.21", false}, {"18.0", true}, {"12.22", false}, {"9.6.24", false},
	} {
		v, err := ParseVersion(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckRestrict(v); (err == nil) != tt.ok {
			t.Errorf("CheckRestrict(%s) = %v, want ok=%v", tt.v, err, tt.ok)
		}
	}
}

// TestRestrictedScript checks what psql reads: our \restrict first, then
// the script without pg_dump's own pair of lines, and nothing else changed:
// a line is dropped only when it is exactly one of the pair.
func TestRestrictedScript(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	tests := []struct{ name, in, want string }{
		{"pg_dump header and trailer",
			"--\n-- PostgreSQL database dump\n--\n\n\\restrict Abc123\n\nSET a = 1;\nCOPY t (a) FROM stdin;\n\\N\n\\.\n\n-- done\n\n\\unrestrict Abc123\n",
			"--\n-- PostgreSQL database dump\n--\n\n\nSET a = 1;\nCOPY t (a) FROM stdin;\n\\N\n\\.\n\n-- done\n\n"},
		{"other key kept", "\\restrict Abc\nSELECT 1;\n\\unrestrict Other\n\\unrestrict Abc \n", "SELECT 1;\n\\unrestrict Other\n\\unrestrict Abc \n"},
		{"restrict after the header kept", "SELECT 1;\n\\restrict Abc\n\\unrestrict Abc\n", "SELECT 1;\n\\restrict Abc\n\\unrestrict Abc\n"},
		{"no dump key", "\\! touch x\n\\unrestrict \n", "\\! touch x\n\\unrestrict \n"},
		{"long lines", "\\restrict K1\n" + long + "\n\\unrestrict K1" + long + "\n\\unrestrict K1\n", long + "\n\\unrestrict K1" + long + "\n"},
		{"no final newline", "\\restrict K1\nSELECT 1;\n\\unrestrict K1", "SELECT 1;\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
				got, err := io.ReadAll(wrap(RestrictedScript(wrap(strings.NewReader(tt.in)), "ourkey")))
				if err != nil {
					t.Fatal(err)
				}
				if want := "\\restrict ourkey\n" + tt.want; string(got) != want {
					t.Fatalf("got %.300q\nwant %.300q", got, want)
				}
			}
		})
	}
}

func TestRestrictedScriptReadError(t *testing.T) {
	boom := errors.New("upstream failed")
	r := RestrictedScript(io.MultiReader(strings.NewReader("SELECT 1;\nSELE"), iotest.ErrReader(boom)), "k")
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) || string(got) != "\\restrict k\nSELECT 1;\nSELE" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}
