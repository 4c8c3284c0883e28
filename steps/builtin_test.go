package steps

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/codec"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/latency"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/rotation"
	"github.com/sluice-dev/sluice/steps/tlsaudit"
	"github.com/sluice-dev/sluice/steps/workload"
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
		{"dump", "{url: postgres://db/app, format: directory}", `with.format: "directory" is not one of custom, plain`},
		{"restore", "{url: postgres://db/app, format: tar}", `with.format: "tar" is not one of custom, plain, auto`},
		{"restore", "{target: ephemeal}", `with.target: "ephemeal" is not one of ephemeral (did you mean "ephemeral"?)`},
		{"check-tls", "{target: tls://db:443, fail_on: severe}", `with.fail_on: "severe" is not one of critical, high, medium, low, info, none`},
		{"rotate-key", "{key: k, type: ed25519}", `with.type: "ed25519" is not one of mlkem768x25519, x25519`},
		{"rotate-key", "{key: k, rewrap: {mode: reencrypted}}", `with.rewrap.mode: "reencrypted" is not one of rewrap, reencrypt (did you mean "reencrypt"?)`},
		{"rotate-key", "{key: k, rewrap: {verify: all}}", `with.rewrap.verify: "all" is not one of first-chunk, full, none`},
		{"measure", "{targets: {a: x}, queries: [SELECT 1], mode: prepare}", `with.mode: "prepare" is not one of simple, extended, prepared (did you mean "prepared"?)`},
		{"measure", "{targets: {a: x, b: y}, queries: [SELECT 1], until: {baseline: a, candidate: b, stat: [p95, p75]}}", `with.until.stat[1]: "p75" is not one of`},
		{"assert-overhead", "{results: r.json, baseline: a, candidate: b, stat: p999}", `with.stat: "p999" is not one of p50, p90, p95, p99, mean`},
		{"assert-overhead", "{results: r.json, baseline: a, candidate: b, on_inconclusive: skip}", `with.on_inconclusive: "skip" is not one of fail, pass`},
	}
	for _, c := range cases {
		d, _ := Builtin().Lookup(c.typ)
		if _, err := runner.DecodeParams(d, c.with); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %s", c.typ, c.with, err, c.want)
		}
	}
}

// TestEnumsMatchDomains checks that the closed sets the step parameters
// declare are the ones the domain packages take, so that neither drifts.
func TestEnumsMatchDomains(t *testing.T) {
	enum := func(typ, param string) []string {
		d, _ := Builtin().Lookup(typ)
		doc, err := runner.DescribeStepType(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Params {
			if p.Name == param {
				return p.Enum
			}
		}
		t.Fatalf("%s has no parameter %s", typ, param)
		return nil
	}
	sorted := func(s []string) []string { return slices.Sorted(slices.Values(s)) }
	for _, c := range []struct {
		typ, param string
		domain     []string
	}{
		{"compress", "algorithm", []string{codec.Zstd, codec.Gzip}},
		{"checksum", "algorithm", []string{manifest.SHA256, manifest.SHA512}},
		{"rotate-key", "type", []string{keys.TypeHybrid, keys.TypeX25519}},
		{"rotate-key", "rewrap.mode", []string{rotation.ModeRewrap, rotation.ModeReencrypt}},
		{"rotate-key", "rewrap.verify", []string{rotation.VerifyFirstChunk, rotation.VerifyFull, rotation.VerifyNone}},
		{"measure", "mode", slices.Collect(maps.Keys(workload.Modes))},
		{"measure", "until.stat", latency.StatNames},
		{"assert-overhead", "stat", latency.StatNames},
	} {
		if got := enum(c.typ, c.param); !slices.Equal(sorted(got), sorted(c.domain)) {
			t.Errorf("%s %s: enum %v, the domain takes %v", c.typ, c.param, got, c.domain)
		}
	}
	for _, sev := range enum("check-tls", "fail_on") {
		if _, err := tlsaudit.ParseSeverity(sev); err != nil {
			t.Errorf("check-tls fail_on %s: %v", sev, err)
		}
	}
}
