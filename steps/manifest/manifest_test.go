package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

func stages() []runner.Stage {
	return []runner.Stage{
		{ID: "dump", Type: "dump", Outputs: runner.Outputs{
			"bytes": int64(1234), "server_version": "17.2", "database": "app", "format": "custom",
			"duration": 1500 * time.Millisecond, "url": "postgres://app:hunter2@db/app",
		}},
		{ID: "compress", Type: "compress", Outputs: runner.Outputs{"algorithm": "zstd", "level": int64(3)}},
		{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"recipients": []any{"key-2024"}}},
		{ID: "sum", Type: "checksum", Outputs: runner.Outputs{"algorithm": "sha256", "digest": strings.Repeat("ab", 32), "bytes": int64(99)}},
	}
}

func TestBuildRoundTrip(t *testing.T) {
	up := stages()
	d, ok := DigestOf(up)
	if !ok || d.Hex != strings.Repeat("ab", 32) || d.Bytes != 99 {
		t.Fatalf("DigestOf = %+v, %v", d, ok)
	}
	created := time.Date(2025, 3, 1, 2, 3, 4, 0, time.FixedZone("x", 3600))
	m := Build(Input{Plan: "nightly", RunID: "r1", Created: created, Object: "app.age",
		StoredBytes: 99, Upstream: up, Digest: &d, Secrets: []string{"hunter2"}})
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("hunter2")) {
		t.Fatalf("manifest holds a secret:\n%s", data)
	}
	for _, want := range []string{`"format_version": 1`, `"created": "2025-03-01T01:03:04Z"`, `"engine": "postgresql"`,
		`"server_version": "17.2"`, `"plaintext_bytes": 1234`, `"duration": 1.5`, `"key-2024"`, `"algorithm": "zstd"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("manifest lacks %s:\n%s", want, data)
		}
	}
	back, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if back.Plan != "nightly" || back.Source.Database != "app" || len(back.Stages) != 4 ||
		back.Stages[1].ID != "compress" || back.Digest.Hex != d.Hex || back.StoredBytes != 99 {
		t.Fatalf("round trip lost data: %+v", back)
	}
}

func TestDigestOfNeedsChecksumAtTheEnd(t *testing.T) {
	up := stages()
	// A checksum before encrypt describes other bytes than the stored ones.
	up[2], up[3] = up[3], up[2]
	if d, ok := DigestOf(up); ok {
		t.Fatalf("DigestOf = %+v, want none: the checksum is not the last stage", d)
	}
	if _, ok := DigestOf(nil); ok {
		t.Fatal("DigestOf(nil) found a digest")
	}
}

func TestParseRejects(t *testing.T) {
	for doc, want := range map[string]string{
		`{"format_version": 3, "object": "x"}`: "format_version is 3",
		`{"format_version": 1}`:                "no object",
		`{"format_version": 1, "object": "x", "digest": {"algorithm": "md5", "hex": "00"}}`:    `"md5" is not supported`,
		`{"format_version": 1, "object": "x", "digest": {"algorithm": "sha256", "hex": "00"}}`: "not 32 hexadecimal bytes",
		`not json`: "decoding manifest",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) error = %v, want %q", doc, err, want)
		}
	}
}

func TestSidecarRoundTrip(t *testing.T) {
	sum := sha256.Sum256([]byte("hello"))
	d := Digest{Algorithm: SHA256, Hex: hex.EncodeToString(sum[:])}
	side := Sidecar(d, "day/app.age")
	if want := d.Hex + "  app.age\n"; string(side) != want {
		t.Fatalf("Sidecar = %q, want %q", side, want)
	}
	back, err := ParseSidecar(side, SHA256, "day/app.age")
	if err != nil || back.Hex != d.Hex {
		t.Fatalf("ParseSidecar = %+v, %v", back, err)
	}
	if _, err := ParseSidecar(side, SHA256, "other.age"); err == nil {
		t.Fatal("ParseSidecar accepted a sidecar for another file")
	}
	if _, err := ParseSidecar(side, SHA512, "app.age"); err == nil {
		t.Fatal("ParseSidecar accepted a sha256 line as sha512")
	}
	if got := SidecarName("a.age", SHA512); got != "a.age.sha512" {
		t.Fatalf("SidecarName = %q", got)
	}
	if got := ManifestName("a.age"); got != "a.age.manifest.json" {
		t.Fatalf("ManifestName = %q", got)
	}
}

// FuzzParse: Parse never panics, and what it accepts encodes and parses
// back to the same manifest.
func FuzzParse(f *testing.F) {
	m := Build(Input{Plan: "p", RunID: "r", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Object: "a.age", StoredBytes: 9, Upstream: stages(),
		Digest: &Digest{Algorithm: SHA256, Hex: strings.Repeat("ab", 32)}})
	data, _ := m.Marshal()
	f.Add(data)
	f.Add([]byte(`{"format_version": 1, "object": "x", "digest": {"algorithm": "sha512", "hex": "zz"}}`))
	f.Add([]byte(`{"format_version": 2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted manifest does not encode: %v", err)
		}
		m2, err := Parse(again)
		if err != nil {
			t.Fatalf("re-encoded manifest does not parse: %v\n%s", err, again)
		}
		if b, _ := m2.Marshal(); !bytes.Equal(b, again) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", again, b)
		}
	})
}
