// Package pgtest gives tests a real throwaway PostgreSQL cluster. Without
// PostgreSQL installed, tests skip with the reason printed; in CI (CI=true)
// they fail instead.
//
// By default each call to Cluster starts a cluster for that test and stops it
// in t.Cleanup. A package whose TestMain calls Main shares one cluster among
// all its tests (start-up costs about a second); use NewDB to keep tests apart.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/pg"
)

var (
	shared testenv.Shared[*pg.Cluster]
	dbSeq  atomic.Int64
)

// Main runs m with one cluster shared by all tests of the package and stops
// it afterwards. Call it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	shared.Main(m, func(c *pg.Cluster) {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	})
}

// Cluster returns a running cluster (superuser password: its Password), skipping
// (or, in CI, failing) the test when PostgreSQL is not installed.
func Cluster(t testing.TB) *pg.Cluster {
	t.Helper()
	if !shared.On() {
		return Start(t, pg.Options{})
	}
	c, err := shared.Get(func() (*pg.Cluster, error) { return pg.StartCluster(context.Background(), pg.Options{}) })
	if err != nil {
		unavailable(t, err)
	}
	return c
}

// Start starts a cluster with opts for this test only (for passwords, TLS or
// other settings) and stops it when the test ends.
func Start(t testing.TB, opts pg.Options) *pg.Cluster {
	t.Helper()
	c, err := pg.StartCluster(context.Background(), opts)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	missing := errors.Is(err, pg.ErrNotInstalled) || errors.Is(err, pg.ErrNoSystemUser)
	switch {
	case !missing:
		t.Fatalf("pgtest: %v", err)
	default:
		testenv.SkipUnlessCI(t, "pgtest: PostgreSQL not available: %v", err)
	}
}

// NewDB creates a database with a fresh name in c and drops it when the test
// ends.
func NewDB(t testing.TB, c *pg.Cluster) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), sanitize(t.Name()))
	if err := c.CreateDB(context.Background(), name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return name
}

func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// Seed loads pg.SampleSQL into database db: schemas shop and public, tables
// customers, orders, events and markers, about 10,000 rows of text, numeric,
// timestamptz, bytea and jsonb.
func Seed(t testing.TB, c *pg.Cluster, db string) {
	t.Helper()
	if err := pg.Seed(context.Background(), c, db); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Marker inserts a unique marker row into public.markers of a seeded
// database and returns the marker, for tests that search files for
// plaintext.
func Marker(t testing.TB, c *pg.Cluster, db string) string {
	t.Helper()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	m := "sluice-plaintext-marker-" + hex.EncodeToString(b)
	if err := c.Exec(context.Background(), db, "INSERT INTO public.markers (marker) VALUES ('"+m+"')"); err != nil {
		t.Fatalf("pgtest: inserting marker: %v", err)
	}
	return m
}
