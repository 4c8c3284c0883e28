package manifest

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPartNames(t *testing.T) {
	cases := []struct{ object, label, part string }{
		{"app-r1.dump.zst.age", "00-pre-data", "app-r1.dump.zst.part-00-pre-data.age"},
		{"2026-01-02/app-r1.dump.zst.age", "03-data", "2026-01-02/app-r1.dump.zst.part-03-data.age"},
		{"app.dump", "01-data", "app.dump.part-01-data"},
	}
	for _, tc := range cases {
		if got := PartName(tc.object, tc.label); got != tc.part {
			t.Errorf("PartName(%q, %q) = %q, want %q", tc.object, tc.label, got, tc.part)
		}
		owner, label, ok := PartOwner(tc.part)
		if !ok || owner != tc.object || label != tc.label {
			t.Errorf("PartOwner(%q) = %q, %q, %v", tc.part, owner, label, ok)
		}
	}
	for _, name := range []string{"app.dump.zst.age", "app.part-.age", "app.part-X1.age", "app.part-01.zst.age", ".part-01.age", "app.part-01/x.age"} {
		if o, l, ok := PartOwner(name); ok {
			t.Errorf("PartOwner(%q) = %q, %q: want no part", name, o, l)
		}
	}
}

func partsManifest() *Manifest {
	d := func(c string) *Digest { return &Digest{Algorithm: SHA256, Hex: strings.Repeat(c, 64)} }
	return Build(Input{Plan: "backup", RunID: "r1", Created: time.Unix(0, 0), Object: "app.dump.zst.age", Upstream: stages(),
		Parts: []Part{
			{Name: "app.dump.zst.part-00-pre-data.age", Section: "pre-data", RestorePhase: 0, StoredBytes: 10, Digest: d("a")},
			{Name: "app.dump.zst.part-01-data.age", Section: "data", RestorePhase: 1, Tables: 1, StoredBytes: 100, PlaintextBytes: 300, Digest: d("b")},
			{Name: "app.dump.zst.part-02-data.age", Section: "data", RestorePhase: 1, StoredBytes: 50, Digest: d("c")},
			{Name: "app.dump.zst.part-03-post-data.age", Section: "post-data", RestorePhase: 2, StoredBytes: 5, Digest: d("e")},
		}})
}

func TestPartsRoundTrip(t *testing.T) {
	m := partsManifest()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	if back.FormatVersion != FormatParts || back.StoredBytes != 165 || back.Digest != nil || len(back.Parts) != 4 || !back.InParts() {
		t.Fatalf("round trip: %+v", back)
	}
	if objs := back.Objects(); len(objs) != 4 || objs[3] != "app.dump.zst.part-03-post-data.age" {
		t.Errorf("Objects = %v", objs)
	}
	p := back.Part(1)
	if p.Object != "app.dump.zst.part-01-data.age" || p.StoredBytes != 100 || p.PlaintextBytes != 300 || p.Digest.Hex != strings.Repeat("b", 64) || p.InParts() || len(p.Stages) != 4 {
		t.Errorf("Part(1) = %+v", p)
	}
	d1 := back.BackupDigest()
	back.Parts[2].Digest = &Digest{Algorithm: SHA256, Hex: strings.Repeat("d", 64)}
	if d2 := back.BackupDigest(); d1 == nil || d2 == nil || d1.Hex == d2.Hex {
		t.Errorf("BackupDigest does not follow a part's digest: %v, %v", d1, d2)
	}
	one := Build(Input{Object: "x.age", Digest: &Digest{Algorithm: SHA256, Hex: strings.Repeat("f", 64)}})
	if one.BackupDigest() != one.Digest || one.FormatVersion != FormatVersion || bytes.Contains(must(one.Marshal()), []byte("parts")) {
		t.Errorf("a backup of one object changed: %+v", one)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestPartsRefused: a manifest in parts must not point readers (or a
// prune) at objects that are not its own.
func TestPartsRefused(t *testing.T) {
	cases := []struct {
		name string
		edit func(m *Manifest)
		msg  string
	}{
		{"another backup's object", func(m *Manifest) { m.Parts[1].Name = "other.dump.zst.age" }, "is not named after the backup"},
		{"another backup's part", func(m *Manifest) { m.Parts[1].Name = "other.dump.zst.part-01-data.age" }, "is not named after the backup"},
		{"another folder", func(m *Manifest) { m.Parts[1].Name = "../app.dump.zst.part-01-data.age" }, "is not named after the backup"},
		{"twice", func(m *Manifest) { m.Parts[2].Name = m.Parts[1].Name }, "listed twice"},
		{"no digest", func(m *Manifest) { m.Parts[0].Digest = nil }, "records no digest"},
		{"out of order", func(m *Manifest) { m.Parts[3].RestorePhase = 0 }, "out of restore order"},
		{"version 1 with parts", func(m *Manifest) { m.FormatVersion = 1 }, "only format 2 has parts"},
		{"version 2 without parts", func(m *Manifest) { m.Parts = nil }, "lists no parts"},
		{"version 3", func(m *Manifest) { m.FormatVersion = 3 }, "reads versions 1 and 2 only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := partsManifest()
			tc.edit(m)
			_, err := Parse(must(m.Marshal()))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Parse: %v, want %q", err, tc.msg)
			}
		})
	}
}
