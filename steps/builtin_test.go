package steps

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// params returns the parameters of a step of type typ whose with: mapping
// is the YAML text with, as the runner binds them: defaults from the tags,
// closed sets checked, Validate called.
func params[T any](t testing.TB, typ, with string) *T {
	t.Helper()
	d, ok := Builtin().Lookup(typ)
	if !ok {
		t.Fatalf("no step type %q", typ)
	}
	v, err := runner.DecodeParams(d, with)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := v.(*T)
	if !ok {
		t.Fatalf("step type %q has parameters %T", typ, v)
	}
	return p
}

// TestClosedSetsRefused checks that every parameter with a closed set of
// values refuses a value outside it when the plan is loaded, naming the set
// and the nearest value.
func TestClosedSetsRefused(t *testing.T) {
	cases := []struct{ typ, with, want string }{
		{"checksum", "{algorithm: md5}", `with.algorithm: "md5" is not one of sha256, sha512`},
		{"compress", "{algorithm: zsdt}", `with.algorithm: "zsdt" is not one of zstd, gzip (did you mean "zstd"?)`},
		{"decompress", "{algorithm: xz}", `with.algorithm: "xz" is not one of auto, zstd, gzip`},
	}
	for _, c := range cases {
		d, _ := Builtin().Lookup(c.typ)
		if _, err := runner.DecodeParams(d, c.with); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %s", c.typ, c.with, err, c.want)
		}
	}
}
