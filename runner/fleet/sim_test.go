package fleet

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// The calculation behind docs/fleet.md: the wall time of a nightly backup
// of a 500-database fleet, from per-database dump sizes, the concurrency
// cap, one target's rate and the storage bandwidth. TestFleetTable
// computes the table and fails when docs/fleet.md shows another; run it
// with -update-fleet-doc to rewrite it.

var updateFleetDoc = flag.Bool("update-fleet-doc", false, "rewrite the table in docs/fleet.md")

const (
	gib = 1024.0 // MiB
	// perTarget is what one target streams, in MiB of dump per second:
	// bench/pipeline.sh measured 89 MiB/s of dump through zstd level 1,
	// age and sha256 on one core (README, s3:// destinations).
	perTarget = 90.0
	// ratio is dump bytes per stored byte (171 MiB of dump stored as
	// 46 MiB in the same measurement).
	ratio = 3.7
	// startup is a target's fixed cost before bytes flow: scheduling the
	// pod (image cached), copying the key store, connecting, pg_dump's
	// catalogue snapshot.
	startup = 15.0 // seconds
)

// fleet500 is the modelled fleet: 500 databases, most small, a few large.
func fleet500() []float64 {
	var sizes []float64
	for _, tier := range []struct {
		n   int
		gib float64
	}{{300, 2}, {150, 10}, {45, 50}, {5, 300}} {
		for range tier.n {
			sizes = append(sizes, tier.gib*gib)
		}
	}
	return sizes
}

// simulate returns the wall time in seconds of running targets (dump
// sizes in MiB) in the given order, at most parallel at once, each at
// most perTarget MiB/s after its startup, all together at most storage
// MiB/s of stored bytes (shared equally among the streaming targets).
func simulate(sizes []float64, parallel int, storage float64) float64 {
	type run struct{ start, left float64 }
	var (
		now     float64
		next    int
		running []*run
	)
	for next < len(sizes) || len(running) > 0 {
		for len(running) < parallel && next < len(sizes) {
			running = append(running, &run{start: now + startup, left: sizes[next]})
			next++
		}
		streaming := 0
		for _, r := range running {
			if r.start <= now {
				streaming++
			}
		}
		rate := perTarget
		if streaming > 0 {
			rate = math.Min(perTarget, storage*ratio/float64(streaming))
		}
		// Advance to the next event: a startup ends or a stream ends.
		step := math.Inf(1)
		for _, r := range running {
			if r.start > now {
				step = math.Min(step, r.start-now)
			} else {
				step = math.Min(step, r.left/rate)
			}
		}
		prev := now
		now += step
		kept := running[:0]
		for _, r := range running {
			if r.start <= prev {
				r.left -= rate * step
			}
			if r.start > prev || r.left > 1e-6 {
				kept = append(kept, r)
			}
		}
		running = kept
	}
	return now
}

func TestSimulateBasics(t *testing.T) {
	if got := simulate([]float64{900}, 1, 1e9); math.Abs(got-(startup+10)) > 1e-6 {
		t.Errorf("one 900 MiB target: %v s, want startup + 10", got)
	}
	// Storage-bound: four targets share 90 MiB/s of dump (storage*ratio).
	if got := simulate([]float64{900, 900, 900, 900}, 4, 90/ratio); math.Abs(got-(startup+40)) > 1e-6 {
		t.Errorf("four targets behind one target's worth of storage: %v s, want startup + 40", got)
	}
	// The cap: two at a time, one after the other.
	if got := simulate([]float64{900, 900, 900, 900}, 2, 1e9); math.Abs(got-2*(startup+10)) > 1e-6 {
		t.Errorf("four targets two at a time: %v s, want 2 x (startup + 10)", got)
	}
}

func hm(s float64) string {
	m := int(math.Round(s / 60))
	return fmt.Sprintf("%dh%02d", m/60, m%60)
}

// fleetTable is the table docs/fleet.md shows.
func fleetTable() string {
	sizes := fleet500()
	largestFirst := slices.Clone(sizes)
	slices.SortFunc(largestFirst, func(a, b float64) int { return int(b - a) })
	shuffled := slices.Clone(sizes)
	rng := rand.New(rand.NewPCG(18, 500))
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var total float64
	for _, s := range sizes {
		total += s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| --parallel | storage (stored MiB/s) | wall time, largest first | wall time, any order | bound by |\n")
	fmt.Fprintf(&b, "|---:|---:|---:|---:|---|\n")
	for _, storage := range []float64{1024, 250} {
		for _, p := range []int{1, 4, 8, 16, 32, 64} {
			lf, any := simulate(largestFirst, p, storage), simulate(shuffled, p, storage)
			bound := "targets (cap × 90 MiB/s)"
			switch {
			case float64(p)*perTarget > storage*ratio:
				bound = fmt.Sprintf("storage (%.0f MiB/s of dump)", storage*ratio)
			case lf < 1.05*(startup+300*gib/perTarget):
				bound = "the largest database (57 min alone)"
			}
			fmt.Fprintf(&b, "| %d | %.0f | %s | %s | %s |\n", p, storage, hm(lf), hm(any), bound)
		}
	}
	fmt.Fprintf(&b, "\n%d databases, %.0f GiB of dump in all (%.0f GiB stored).\n", len(sizes), total/gib, total/gib/ratio)
	return b.String()
}

func TestFleetTable(t *testing.T) {
	const doc = "../../docs/fleet.md"
	const begin, end = "<!-- fleet-table:begin (go test ./runner/fleet -run TestFleetTable -update-fleet-doc) -->\n", "<!-- fleet-table:end -->"
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no table markers", doc)
	}
	want := fleetTable()
	if got := text[i+len(begin) : j]; got != want {
		if *updateFleetDoc {
			if err := os.WriteFile(doc, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s shows another table than the calculation gives; run with -update-fleet-doc:\n%s", doc, want)
	}
}
