package rotation

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
)

// BenchmarkRewrap moves 1,000 small (4 KiB) and 10 large (64 MiB) backups
// on file:// to a new key (X25519 -> X25519: headers rewritten in place) and
// reports backups per second. Compare the two per-backup costs: the header
// rewrite is constant, the digest refresh reads each object once.
//
//	go test ./steps/rotation -run '^$' -bench Rewrap -benchtime 1x
func BenchmarkRewrap(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, size int
	}{{"1000x4KiB", 1000, 4 << 10}, {"10x64MiB", 10, 64 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				f := rotationtest.New(b, keys.TypeX25519, c.n, c.size)
				if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
					b.Fatal(err)
				}
				r, err := New(blob.NewFile(f.Dest), f.Store, Options{Verify: VerifyNone})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := r.Run(context.Background())
				if err != nil || len(res.Rewrapped) != c.n || res.InPlace != c.n {
					b.Fatalf("%+v, %v", res, err)
				}
			}
			perSec := float64(c.n*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(perSec, "backups/s")
			b.ReportMetric(b.Elapsed().Seconds()/float64(c.n*b.N)*1e3, "ms/backup")
		})
	}
}
