package catalog_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// storeParts writes a backup in parts as the upload step does: each part
// (real zstd + age) with its sidecar, then the signed manifest last. It
// returns the parts' names.
func (f *verifyFixture) storeParts(t *testing.T, name string, created time.Time, sizes ...int) []string {
	t.Helper()
	var parts []manifest.Part
	var stages []runner.Stage
	var names []string
	for i, size := range sizes {
		plain := make([]byte, size)
		rand.Read(plain[:size/2])
		ct, st := f.seal(t, plain, nil)
		stages = st
		sum := sha256.Sum256(ct)
		d := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
		section, phase := "data", 1
		switch i {
		case 0:
			section, phase = "pre-data", 0
		case len(sizes) - 1:
			section, phase = "post-data", 2
		}
		pn := manifest.PartName(path.Base(name), fmt.Sprintf("%02d-%s", i, section))
		full := catalog.PartPath(name, pn)
		put(t, f.b, full, ct)
		put(t, f.b, manifest.SidecarName(full, manifest.SHA256), manifest.Sidecar(d, pn))
		parts = append(parts, manifest.Part{Name: pn, Section: section, RestorePhase: phase, StoredBytes: int64(len(ct)), PlaintextBytes: int64(size), Digest: &d})
		names = append(names, full)
	}
	m := manifest.Build(manifest.Input{Plan: "backup", RunID: "r", Created: created, Object: path.Base(name), Upstream: stages, Parts: parts})
	js, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	put(t, f.b, manifest.SignatureName(name), f.sign(t, js))
	put(t, f.b, manifest.ManifestName(name), js)
	return names
}

// TestPartsCatalog: a backup in parts is one backup with its parts, which
// verify checks one by one and prune removes, manifest first; none of its
// parts is ever taken for a leftover.
func TestPartsCatalog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		f := newVerifyFixture(t, b)
		const name = "2026-11-02/app-r2.dump.zst.age"
		parts := f.storeParts(t, name, day(2), 20<<10, 300<<10, 100<<10, 10<<10)
		f.backup(t, "2026-11-01/app-r1.dump.zst.age", day(1), 50<<10)
		c, err := catalog.Read(ctx, b, f.trust(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Backups) != 2 || len(c.Incomplete)+len(c.Problems)+len(c.Other) != 0 {
			t.Fatalf("catalogue: backups %v, incomplete %v, problems %v, other %v", names(c.Backups), c.Incomplete, c.Problems, c.Other)
		}
		bk, _ := c.Find(name)
		var size int64
		for _, p := range bk.Parts {
			size += p.Size
		}
		if !slices.Equal(bk.PartNames(), parts) || bk.Object.Size != size || bk.Object.Size != bk.Summary.StoredBytes {
			t.Errorf("parts %v (size %d, manifest %d), want %v", bk.PartNames(), bk.Object.Size, bk.Summary.StoredBytes, parts)
		}
		for _, p := range parts {
			if !slices.Contains(bk.Related, manifest.SidecarName(p, manifest.SHA256)) {
				t.Errorf("the sidecar of %s is not the backup's: %v", p, bk.Related)
			}
		}

		res := f.verify(t, name, true)
		if len(res) != 1 || !res[0].OK || res[0].Level != catalog.LevelContent || !res[0].Sidecar || res[0].PlaintextBytes != 430<<10 ||
			res[0].Digest != bk.Summary.Digest.String() || !slices.Equal(res[0].KeyIDs, []string{f.keyID}) {
			t.Fatalf("verify: %+v", res)
		}
		if c, _ = catalog.Read(ctx, b, f.trust(t)); c.Backups[1].Name != name || !c.Backups[1].Verified() {
			t.Fatalf("the backup in parts is not verified after a verify: %+v", c.Backups[1])
		}

		// A damaged part fails the whole backup, naming the part.
		rc, _ := b.Open(ctx, parts[2])
		data := make([]byte, 100<<10)
		n, _ := rc.Read(data)
		rc.Close()
		data = data[:n]
		data[n/2] ^= 1
		put(t, b, parts[2], data)
		res = f.verify(t, name, true)
		if res[0].OK || !strings.Contains(res[0].Error, b.URL(parts[2])) {
			t.Fatalf("a damaged part: %+v", res[0])
		}
		if c, _ = catalog.Read(ctx, b, f.trust(t)); c.Backups[1].Verified() {
			t.Errorf("the verify record survived a damaged part")
		}
	})
}

// TestPartsMissing: a manifest whose part is gone is a problem naming the
// part, not a backup.
func TestPartsMissing(t *testing.T) {
	f := newVerifyFixture(t, blob.NewFile(t.TempDir()))
	parts := f.storeParts(t, "app.dump.zst.age", day(2), 1000, 1000, 1000)
	if err := f.b.Remove(ctx, parts[1]); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Read(ctx, f.b, f.trust(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Backups) != 0 || len(c.Problems) != 1 || c.Problems[0].Kind != catalog.ProblemObjectMissing || !strings.Contains(c.Problems[0].Detail, parts[1]) {
		t.Fatalf("backups %v, problems %+v", names(c.Backups), c.Problems)
	}
	// Its other parts belong to a manifest: never leftovers.
	if len(c.Incomplete) != 0 {
		t.Errorf("parts of a manifest listed as incomplete: %+v", c.Incomplete)
	}
}

// TestPartsNeverLeftovers: prune --incomplete reads no manifest (it trusts
// none), so it must still tell the parts of a complete backup from the
// parts a killed run left without a manifest; it removes only the latter.
func TestPartsNeverLeftovers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		f := newVerifyFixture(t, b)
		complete := f.storeParts(t, "app-r1.dump.zst.age", day(1), 1000, 2000, 1000)
		left := f.storeParts(t, "app-r2.dump.zst.age", day(2), 1000, 2000, 1000)
		for _, n := range []string{manifest.ManifestName("app-r2.dump.zst.age"), manifest.SignatureName("app-r2.dump.zst.age")} {
			if err := b.Remove(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		res, err := catalog.LeftoversDest(ctx, b, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		var removed []string
		for _, o := range res.Objects {
			if slices.Contains(complete, o.Name) {
				t.Errorf("part %s of a complete backup is listed as a leftover", o.Name)
			}
			if o.Removed {
				removed = append(removed, o.Name)
			}
		}
		if !slices.Equal(removed, left) {
			t.Errorf("removed %v, want the parts without a manifest %v", removed, left)
		}
		all := listAll(t, b)
		for _, p := range complete {
			if !slices.Contains(all, p) || !slices.Contains(all, manifest.SidecarName(p, manifest.SHA256)) {
				t.Errorf("part %s of a complete backup (or its sidecar) was removed: %v", p, all)
			}
		}
		if len(all) != 8 {
			t.Errorf("left %v, want the complete backup's 3 parts, 3 sidecars, manifest and signature", all)
		}
	})
}

// TestPartsPrune: prune removes a backup in parts, manifest first; a prune
// stopped after the manifest leaves parts that are incomplete, which
// prune --incomplete then removes.
func TestPartsPrune(t *testing.T) {
	f := newVerifyFixture(t, blob.NewFile(t.TempDir()))
	f.storeParts(t, "app-r1.dump.zst.age", day(1), 1000, 2000, 1000)
	f.storeParts(t, "app-r2.dump.zst.age", day(2), 1000, 2000, 1000)
	f.backup(t, "app-r3.dump.zst.age", day(3), 1000)
	fr := &failingRemove{Backend: f.b, name: "app-r1.dump.zst.part-01-data.age"}
	_, err := catalog.PruneDest(ctx, fr, catalog.Policy{Last: 2}, true, f.trust(t))
	if err == nil || !strings.Contains(err.Error(), "app-r1.dump.zst.part-01-data.age") {
		t.Fatalf("prune stopped at the second part: %v", err)
	}
	c, err := catalog.Read(ctx, f.b, f.trust(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(c.Backups); !slices.Equal(got, []string{"app-r2.dump.zst.age", "app-r3.dump.zst.age"}) || len(c.Problems) != 0 {
		t.Fatalf("after a stopped prune: backups %v, problems %v", got, c.Problems)
	}
	// Left: the two parts not reached, and the sidecar and signature of
	// what is gone.
	if len(c.Incomplete) != 4 {
		t.Errorf("incomplete %+v, want the parts and files left", c.Incomplete)
	}
	if _, err := catalog.LeftoversDest(ctx, f.b, 0, true); err != nil {
		t.Fatal(err)
	}
	for _, n := range listAll(t, f.b) {
		if strings.HasPrefix(n, "app-r1") {
			t.Errorf("%s left after prune --incomplete", n)
		}
	}
	if _, err := catalog.PruneDest(ctx, f.b, catalog.Policy{Last: 1}, true, f.trust(t)); err != nil {
		t.Fatal(err)
	}
	for _, n := range listAll(t, f.b) {
		if !strings.HasPrefix(n, "app-r3") {
			t.Errorf("%s left after pruning its backup", n)
		}
	}
}
