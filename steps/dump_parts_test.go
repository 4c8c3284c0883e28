package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// partsBackupPlan is plans/backup.yaml's pipeline with dump jobs, and
// partsRestorePlan its inverse, restoring a backup in parts into a
// database it creates.
const (
	partsBackupPlan = `version: 1
params:
  db: {type: string, secret: true}
  to: {type: string}
  args: {type: list, default: []}
keys:
  backup: {store: dir, path: %q}
steps:
  dump: {type: dump, with: {url: "${{ params.db }}", jobs: %d, args: "${{ params.args }}"}}
  compress: {type: compress, input: dump}
  encrypt: {type: encrypt, input: compress, with: {key: backup}}
  checksum: {type: checksum, input: encrypt}
  upload:
    type: upload
    input: checksum
    with: {to: "${{ params.to }}"}
    assert:
      - steps.dump.parts == steps.upload.parts
`
	partsRestorePlan = `version: 1
params:
  from: {type: string}
  db: {type: string, secret: true}
keys:
  backup: {store: dir, path: %q}
steps:
  download: {type: download, with: {from: "${{ params.from }}", jobs: 3}}
  decrypt: {type: decrypt, input: download, with: {key: backup}}
  decompress: {type: decompress, input: decrypt}
  restore: {type: restore, input: decompress, with: {url: "${{ params.db }}", create: true}}
`
)

// TestIntegrationDumpParts proves the parallel dump on a real cluster: one
// snapshot for every part, and a part that fails leaving nothing.
func TestIntegrationDumpParts(t *testing.T) {
	c := pgtest.Cluster(t)
	t.Run("OneSnapshot", func(t *testing.T) { testPartsOneSnapshot(t, c) })
	t.Run("LockedTableFailsAll", func(t *testing.T) { testPartsLocked(t, c, false) })
	t.Run("KilledPgDumpFailsAll", func(t *testing.T) { testPartsLocked(t, c, true) })
}

// setPartHook sets dumpPartStarting for the test.
func setPartHook(t *testing.T, hook func(ctx context.Context, label string) error) {
	dumpPartStarting = hook
	t.Cleanup(func() { dumpPartStarting = nil })
}

func backupParts(t *testing.T, c *pg.Cluster, db, to string, jobs int, args ...string) (*runner.Report, error) {
	t.Helper()
	plan := fmt.Sprintf(partsBackupPlan, testKeyStore(t), jobs)
	list := make([]any, len(args))
	for i, a := range args {
		list[i] = a
	}
	return runPlan(t, plan, map[string]any{"db": c.DSN(db), "to": to, "args": list})
}

// testPartsOneSnapshot: rows committed after the snapshot was exported
// (one transaction across tables that go to different parts, when the
// first part starts, and more before the last part starts) are in no part:
// the restore equals the database as it was before.
func testPartsOneSnapshot(t *testing.T, c *pg.Cluster) {
	ctx := context.Background()
	src := pgtest.NewDB(t, c)
	pgtest.SeedParts(t, c, src, 1)
	before, err := pg.Fingerprint(ctx, c.DSN(src))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(before)), pgtest.PartsTables) {
		t.Fatalf("tables %v", slices.Sorted(maps.Keys(before)))
	}
	var mu sync.Mutex
	var started []string
	setPartHook(t, func(ctx context.Context, label string) error {
		mu.Lock()
		defer mu.Unlock()
		started = append(started, label)
		var sql string
		switch {
		case len(started) == 1:
			sql = `BEGIN;
INSERT INTO customers (name, email) VALUES ('late', 'late@example.com');
INSERT INTO orders (customer_id, total) VALUES (1, 1);
INSERT INTO events (kind) VALUES ('late');
INSERT INTO tags VALUES (999, 'late');
COMMIT;`
		case strings.HasSuffix(label, "post-data"): // the last to start
			sql = `INSERT INTO "Mixed Case" VALUES ('later'); DELETE FROM audit.log WHERE line = 'line 1'`
		default:
			return nil
		}
		return c.Exec(ctx, src, sql)
	})
	dir := t.TempDir()
	to := filepath.Join(dir, "app.dump.zst.age")
	rep, err := backupParts(t, c, src, to, 2)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	parts := rep.Step("dump").Outputs["parts"]
	if len(started) < 4 || parts != int64(len(started)) || !strings.HasSuffix(started[len(started)-1], "post-data") {
		t.Fatalf("%v parts, started %v: want the schema parts and data parts, post-data last", parts, started)
	}
	after, _ := pg.Fingerprint(ctx, c.DSN(src))
	for _, table := range []string{"public.customers", "public.orders", "public.events", "public.tags", "public.Mixed Case", "audit.log"} {
		if after[table] == before[table] {
			t.Fatalf("the inserts did not reach %s", table)
		}
	}
	dst := "restored_" + src
	t.Cleanup(func() {
		_ = c.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{dst}.Sanitize()+" WITH (FORCE)")
	})
	if _, err := runPlan(t, fmt.Sprintf(partsRestorePlan, testKeyStore(t)), map[string]any{"from": to, "db": c.DSN(dst)}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	got, err := pg.Fingerprint(ctx, c.DSN(dst))
	if err != nil {
		t.Fatal(err)
	}
	assertSameFingerprint(t, got, before)
	var seq int64
	conn, err := pg.Connect(ctx, c.DSN(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Sequences are not transactional: pg_dump reads their value when it
	// gets to them (the late insert took 1001), as one pg_dump would.
	if err := conn.QueryRow(ctx, "SELECT last_value FROM customers_id_seq").Scan(&seq); err != nil || seq < 1000 {
		t.Errorf("sequence customers_id_seq restored at %d (%v), want at least the restored rows' 1000", seq, err)
	}
	var los int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_largeobject_metadata").Scan(&los); err != nil || los != 1 {
		t.Errorf("%d large objects restored (%v), want 1", los, err)
	}
}

// testPartsLocked: a statement waits for an exclusive lock on the largest
// table (it queues behind the snapshot's lock), so that table's pg_dump
// cannot lock it: with a short --lock-wait-timeout the part fails, or
// (kill) the blocked pg_dump is killed. Either way the whole backup fails,
// nothing is left in the destination, the snapshot's transaction ends and
// the waiting statement goes through.
func testPartsLocked(t *testing.T, c *pg.Cluster, kill bool) {
	src := pgtest.NewDB(t, c)
	pgtest.SeedParts(t, c, src, 1)
	alterDone := make(chan error, 1)
	setPartHook(t, func(ctx context.Context, label string) error {
		if strings.HasSuffix(label, "pre-data") { // its phase ends before any data part starts
			return nil
		}
		if label == "01-data" { // the largest table's, events
			go func() { alterDone <- c.Exec(context.Background(), src, "ALTER TABLE events ADD COLUMN late int") }()
			return waitFor(ctx, func() (bool, error) { return waiting(ctx, c, src, "ALTER TABLE") })
		}
		// Every other part starts once 01-data's pg_dump waits for its
		// lock, so that its pg_dump is the only one running then.
		if err := waitFor(ctx, func() (bool, error) { return waiting(ctx, c, src, "LOCK TABLE") }); err != nil || !kill {
			return err
		}
		pids := pgtest.ChildPIDs(t, "pg_dump")
		if len(pids) != 1 {
			return fmt.Errorf("pg_dump processes %v, want the one of part 01-data", pids)
		}
		return syscall.Kill(pids[0], syscall.SIGKILL)
	})
	dir := t.TempDir()
	wait := "--lock-wait-timeout=1000"
	if kill {
		wait = "--lock-wait-timeout=600000"
	}
	rep, err := backupParts(t, c, src, filepath.Join(dir, "app.dump.zst.age"), 2, wait)
	want := `step "dump": part `
	if kill {
		want = `step "dump": part 01-data: pg_dump was killed`
	}
	// pg_dump's --lock-wait-timeout is a statement timeout on its LOCK.
	if err == nil || !strings.Contains(err.Error(), want) || !kill && !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("backup: %v; want %q", err, want)
	}
	if st := rep.Step("upload").Status; st == runner.StatusSucceeded {
		t.Errorf("upload %s", st)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("a failed backup left %v", left)
	}
	select {
	case err := <-alterDone:
		if err != nil {
			t.Errorf("the waiting ALTER TABLE failed: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the waiting ALTER TABLE never got its lock: the snapshot's transaction was not ended")
	}
}

// waiting tells whether a session waits for a lock in database db while
// it runs a statement starting with prefix: the test's ALTER TABLE, or a
// pg_dump's LOCK TABLE.
func waiting(ctx context.Context, c *pg.Cluster, db, prefix string) (bool, error) {
	conn, err := pg.Connect(ctx, c.DSN(db))
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND starts_with(query, $1)`, prefix).Scan(&n)
	return n > 0, err
}

// waitFor polls cond every 20 ms for up to two minutes.
func waitFor(ctx context.Context, cond func() (bool, error)) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("timed out waiting")
}
