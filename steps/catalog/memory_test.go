package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// TestCatalogManifestSizeBound: a real manifest is a few KiB. One stuffed
// past manifest.MaxSize (256 KiB), or one whose plan, run, database and key
// ids (what the catalogue keeps per backup) exceed a few KiB, is a problem
// saying so, not a backup whose bulk the catalogue holds.
func TestCatalogManifestSizeBound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		writeManifest(t, b, "ok.age", 64<<10, "nightly")
		writeManifest(t, b, "huge.age", manifest.MaxSize, "nightly")
		writeManifest(t, b, "long-plan.age", 0, strings.Repeat("p", 100<<10))
		c, err := catalog.Read(ctx, b, trust)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(c.Backups); len(got) != 1 || got[0] != "ok.age" {
			t.Errorf("backups %q, want ok.age only", got)
		}
		want := map[string]string{
			"huge.age.manifest.json":      "larger than 256 KiB",
			"long-plan.age.manifest.json": "more than the 8 KiB",
		}
		for _, p := range c.Problems {
			if w, ok := want[p.Manifest]; ok && p.Kind == catalog.ProblemUnreadable && strings.Contains(p.Detail, w) {
				t.Logf("%s: %s", p.Manifest, p.Detail)
				delete(want, p.Manifest)
			}
		}
		if len(want) > 0 {
			t.Errorf("problems %+v; missing %v", c.Problems, want)
		}
	})
}

// writeManifest stores an empty object and a valid manifest for it whose
// dump stage carries pad bytes of output (a large but well-formed
// manifest).
func writeManifest(t testing.TB, b blob.Backend, object string, pad int, plan string) {
	t.Helper()
	m := manifest.Build(manifest.Input{
		Plan: plan, RunID: "r-" + object, Created: day(1), Object: object,
		Upstream: []runner.Stage{
			{ID: "dump", Type: "dump", Outputs: runner.Outputs{"bytes": int64(100), "database": "app", "pad": strings.Repeat("x", pad)}},
			{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{"k-0123456789abcdef"}}},
		},
	})
	js, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, object, nil, blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(js, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, manifest.SignatureName(object), sig, blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, manifest.ManifestName(object), js, blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
}

// manyManifests writes n backups (empty object, 16 KiB manifest) under a
// new folder, directly with os.WriteFile to keep the setup short, and
// returns the folder and the manifests' total size.
func manyManifests(t testing.TB, n int) (string, int64) {
	t.Helper()
	root := t.TempDir()
	var total int64
	for i := range n {
		object := fmt.Sprintf("app-%05d.dump.zst.age", i)
		m := manifest.Build(manifest.Input{
			Plan: "nightly", RunID: fmt.Sprintf("r-%05d", i), Created: day(1).Add(time.Duration(i) * time.Minute), Object: object,
			Upstream: []runner.Stage{
				{ID: "dump", Type: "dump", Outputs: runner.Outputs{"bytes": int64(100), "database": "app", "pad": strings.Repeat("x", 16<<10)}},
				{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{"k-0123456789abcdef"}}},
			},
		})
		js, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(js))
		if err := os.WriteFile(filepath.Join(root, object), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, manifest.ManifestName(object)), js, 0o600); err != nil {
			t.Fatal(err)
		}
		sig, err := signer.Sign(js, signing.ManifestNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, manifest.SignatureName(object)), sig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root, total
}

// heapUse reads the catalogue of root and returns the heap its result
// keeps alive and the peak heap seen while reading (sampled every 200µs
// through runtime/metrics, which does not stop the world).
func heapUse(t testing.TB, root string) (c *catalog.Catalog, retained, peak uint64) {
	t.Helper()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := heap()
	var max atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if h := heap(); h > max.Load() {
				max.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	c, err := catalog.Read(ctx, blob.NewFile(root), trust)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	after := heap()
	runtime.KeepAlive(c)
	return c, after - min(after, base), max.Load() - min(max.Load(), base)
}

// TestCatalogMemoryBounded reads 10,000 backups whose manifests are 16 KiB
// each (160 MiB together) and measures the heap: the catalogue keeps a
// summary per backup, not the manifests, so what it keeps alive stays under
// 2 KiB per backup (10% of the manifests' size; it was 18 KiB, 106%, when
// it kept every parsed manifest), and the peak while reading under 40% of
// the manifests' size (it was 167%). It measures memory, never time.
func TestCatalogMemoryBounded(t *testing.T) {
	const n = 10000
	root, total := manyManifests(t, n)
	c, retained, peak := heapUse(t, root)
	if len(c.Backups) != n {
		t.Fatalf("%d backups, want %d (problems: %d)", len(c.Backups), n, len(c.Problems))
	}
	t.Logf("%d manifests, %.1f MiB on disk: retained %.1f MiB (%d B per backup, %.1f%% of the manifests), peak %.1f MiB (%.1f%%)",
		n, mib(total), mib(int64(retained)), retained/n, 100*float64(retained)/float64(total), mib(int64(peak)), 100*float64(peak)/float64(total))
	if retained > uint64(total)/10 || retained/n > 2048 {
		t.Errorf("the catalogue keeps %.1f MiB alive for %.1f MiB of manifests (%d B per backup): want under 10%% and 2 KiB per backup",
			mib(int64(retained)), mib(total), retained/n)
	}
	if peak > uint64(total)*4/10 {
		t.Errorf("peak heap %.1f MiB while reading %.1f MiB of manifests: want under 40%%", mib(int64(peak)), mib(total))
	}
}

// BenchmarkCatalogRead reports, per size, the heap the catalogue keeps per
// backup and the peak heap while reading, relative to the manifests' total
// size (the reference measured in the same run): flat per-backup figures
// mean the listing's memory grows with the number of backups only by a
// small summary each.
func BenchmarkCatalogRead(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			root, total := manyManifests(b, n)
			b.ResetTimer()
			for range b.N {
				_, retained, peak := heapUse(b, root)
				b.ReportMetric(float64(retained)/float64(n), "retained-B/backup")
				b.ReportMetric(float64(retained)/float64(total), "retained/manifests")
				b.ReportMetric(float64(peak)/float64(total), "peak/manifests")
			}
		})
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestLoadManifestRereadsTheListedManifest: verify and rotate read a
// backup's whole manifest after the listing, through the same checks; one
// replaced in between is an error, not silently a different backup.
func TestLoadManifestRereadsTheListedManifest(t *testing.T) {
	b := blob.NewFile(t.TempDir())
	putBackup(t, b, "a.age", day(1))
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		t.Fatal(err)
	}
	bk, _ := c.Find("a.age")
	m, err := bk.LoadManifest(ctx, b, trust)
	if err != nil || len(m.Stages) != 2 || m.RunID != "r-a.age" {
		t.Fatalf("LoadManifest = %+v, %v; want the whole manifest", m, err)
	}
	putBackup(t, b, "a.age", day(2))
	if _, err := bk.LoadManifest(ctx, b, trust); err == nil || !strings.Contains(err.Error(), "changed since the backups were listed") {
		t.Errorf("LoadManifest after the manifest was replaced: %v, want an error", err)
	}
	put(t, b, manifest.ManifestName("a.age"), []byte(strings.Repeat(" ", manifest.MaxSize+1)))
	var ue *catalog.UntrustedError
	if _, err := bk.LoadManifest(ctx, b, trust); !errors.As(err, &ue) || ue.Kind != catalog.ProblemUnreadable {
		t.Errorf("LoadManifest of an oversized manifest: %v, want an UntrustedError", err)
	}
}
