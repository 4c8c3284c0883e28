package pg

import (
	"context"
	_ "embed"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"crypto/sha256"
	"encoding/hex"
)

// SampleSQL is the sample data the quickstart and the tests load: schemas
// shop and public, tables customers, orders, events and markers, about
// 10,000 rows of text, numeric, timestamptz, bytea and jsonb, with fixed
// content so that two seeded databases have equal fingerprints.
//
//go:embed sample.sql
var SampleSQL string

// Seed loads SampleSQL into database db of c.
func Seed(ctx context.Context, c *Cluster, db string) error {
	if err := c.Exec(ctx, db, SampleSQL); err != nil {
		return fmt.Errorf("loading sample data into %s: %w", db, err)
	}
	return nil
}

// SeedFrom fills database db of c as seed says: "sample" loads SampleSQL,
// "none" nothing, anything else is the path of a SQL file to run.
func SeedFrom(ctx context.Context, c *Cluster, db, seed string) error {
	switch seed {
	case "none":
		return nil
	case "sample":
		return Seed(ctx, c, db)
	}
	sql, err := os.ReadFile(seed)
	if err == nil {
		err = c.Exec(ctx, db, string(sql))
	}
	if err != nil {
		return fmt.Errorf("seeding from %s: %w", seed, err)
	}
	return nil
}

// FingerprintDigest condenses a fingerprint into one comparable string: the
// sha256 of every table's name, row count and md5, in name order.
func FingerprintDigest(sums map[string]TableSum) string {
	names := slices.Sorted(maps.Keys(sums))
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %d %s\n", n, sums[n].Rows, sums[n].MD5)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// TotalRows is the number of rows over every table of a fingerprint.
func TotalRows(sums map[string]TableSum) int64 {
	var n int64
	for _, s := range sums {
		n += s.Rows
	}
	return n
}
