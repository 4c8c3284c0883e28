package pgtest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/pg"
)

// partsSQL is a database of eight tables of different sizes and shapes,
// for parallel dumps: a foreign key across tables, identity and serial
// sequences, TOASTed bytea, jsonb, a second schema, a quoted name, an empty
// table, an index, a view and a large object. SCALE multiplies the rows.
const partsSQL = `
CREATE SCHEMA audit;
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000 * SCALE) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(12,2), created timestamptz);
INSERT INTO orders (customer_id, total, created)
  SELECT 1 + g % (1000 * SCALE), (g % 9973) / 7.0, timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 20000 * SCALE) g;
CREATE INDEX orders_created ON orders (created);
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text, payload jsonb);
INSERT INTO events (kind, payload)
  SELECT 'kind' || g % 17, jsonb_build_object('n', g, 'text', md5(g::text), 'list', jsonb_build_array(g, g * 2)) FROM generate_series(1, 40000 * SCALE) g;
CREATE TABLE blobs (id int PRIMARY KEY, data bytea);
INSERT INTO blobs SELECT g, decode(repeat(md5(g::text), 256), 'hex') FROM generate_series(1, 200 * SCALE) g;
CREATE TABLE audit.log (at timestamptz, line text);
INSERT INTO audit.log SELECT timestamptz '2026-01-01' + g * interval '1 second', 'line ' || g FROM generate_series(1, 5000 * SCALE) g;
CREATE TABLE tags (id smallint PRIMARY KEY, label text);
INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 50) g;
CREATE TABLE "Mixed Case" ("Value" text);
INSERT INTO "Mixed Case" VALUES ('one'), ('two'), ('three');
CREATE TABLE empty_table (x int);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;
SELECT lo_from_bytea(0, 'a large object');
ANALYZE;
`

// PartsTables are the tables SeedParts makes, as pg.Fingerprint names them.
var PartsTables = []string{"audit.log", "public.Mixed Case", "public.blobs", "public.customers", "public.empty_table", "public.events", "public.orders", "public.tags"}

// SeedParts loads eight tables of different sizes into database db (about
// 12 MB at scale 1), for tests of parallel dumps.
func SeedParts(t testing.TB, c *pg.Cluster, db string, scale int) {
	t.Helper()
	if err := c.Exec(context.Background(), db, strings.ReplaceAll(partsSQL, "SCALE", strconv.Itoa(scale))); err != nil {
		t.Fatalf("pgtest: seeding tables for a parallel dump: %v", err)
	}
}
