package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// TestIntegrationBackup proves the encrypted backup path on a real
// PostgreSQL cluster with the committed plans and the CLI, as a user runs
// them. One cluster serves every sub-test (this package's TestMain belongs
// to testscript, so the cluster is scoped to this test rather than shared
// through pgtest.Main). Without PostgreSQL, age or zstd it skips, except
// with CI=true, where it fails.
func TestIntegrationBackup(t *testing.T) {
	requireTools(t, "age", "zstd", "sha256sum")
	requirePGTool(t, "pg_dump")
	requirePGTool(t, "pg_restore")
	c := pgtest.Cluster(t)
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, c) })
	t.Run("RestoreDrillNewest", func(t *testing.T) { testRestoreDrill(t, c) })
	t.Run("StandardTools", func(t *testing.T) { testStandardTools(t, c) })
	t.Run("NoPlaintextOnDisk", func(t *testing.T) { testNoPlaintextOnDisk(t, c, 1) })
	t.Run("NoPlaintextOnDiskInParts", func(t *testing.T) { testNoPlaintextOnDisk(t, c, 4) })
	t.Run("Faults", func(t *testing.T) { testFaults(t, c) })
	t.Run("Forged", func(t *testing.T) { testForged(t, c) })
}

// seeded returns a new database of c loaded with the sample data.
func seeded(t *testing.T, c *pg.Cluster) string {
	t.Helper()
	db := pgtest.NewDB(t, c)
	pgtest.Seed(t, c, db)
	return db
}

var restoredSeq atomic.Int64

// freshName returns the name of a database that does not exist yet, dropped
// when the test ends.
func freshName(t *testing.T, c *pg.Cluster) string {
	t.Helper()
	name := fmt.Sprintf("restored_%d_%d", os.Getpid(), restoredSeq.Add(1))
	t.Cleanup(func() {
		_ = c.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return name
}

// backupWithPlan runs plans/backup.yaml from the current directory (which
// holds keys/backup) and returns the manifest it wrote under ./backups.
func backupWithPlan(t *testing.T, dsn string, extra ...string) string {
	t.Helper()
	args := append([]string{"run", repoFile(t, "plans/backup.yaml"), "--param", "db=" + dsn, "--state-dir", ".sluice"}, extra...)
	r := mustSluice(t, args...)
	if strings.Contains(r.stdout+r.stderr, dsn) {
		t.Errorf("the DSN appears in the output:\n%s\n%s", r.stdout, r.stderr)
	}
	return newestManifest(t, "backups")
}

// newestManifest returns the manifest under dir with the greatest name (run
// ids sort by time).
func newestManifest(t *testing.T, dir string) string {
	t.Helper()
	var last string
	for _, f := range filesUnder(t, dir) {
		if strings.HasSuffix(f, ".manifest.json") && f > last {
			last = f
		}
	}
	if last == "" {
		t.Fatalf("no manifest under %s: %v", dir, filesUnder(t, dir))
	}
	return filepath.Join(dir, filepath.FromSlash(last))
}

func fingerprint(t *testing.T, c *pg.Cluster, db string) map[string]pg.TableSum {
	t.Helper()
	sums, err := pg.Fingerprint(context.Background(), c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// sameContent fails unless the two databases hold the same rows per table.
func sameContent(t *testing.T, c *pg.Cluster, src, dst string) {
	t.Helper()
	want, got := fingerprint(t, c, src), fingerprint(t, c, dst)
	if len(want) < 4 || pg.TotalRows(want) < 1000 {
		t.Fatalf("source fingerprint too small to prove anything: %v", want)
	}
	if !reflect.DeepEqual(got, want) {
		for table, w := range want {
			if got[table] != w {
				t.Errorf("table %s: restored %+v, source %+v", table, got[table], w)
			}
		}
		for table := range got {
			if _, ok := want[table]; !ok {
				t.Errorf("table %s restored but not in the source", table)
			}
		}
		t.FailNow()
	}
}

func testRoundTrip(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	// The plan's key store is never created implicitly.
	r := sluiceCLI(t, "run", repoFile(t, "plans/backup.yaml"), "--param", "db="+c.DSN(src), "--state-dir", ".sluice")
	if r.code != exitStepFailed || !strings.Contains(r.stderr, "key folder ./keys/backup does not exist: run sluice keys init ./keys/backup") {
		t.Fatalf("backup without a key store: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat("keys"); !os.IsNotExist(err) {
		t.Fatalf("a failed backup created the key folder (%v)", err)
	}
	if got := filesUnder(t, "backups"); len(got) > 0 {
		t.Fatalf("a failed backup left %v", got)
	}
	mustSluice(t, "keys", "init", "keys/backup")
	man := backupWithPlan(t, c.DSN(src))
	layout := regexp.MustCompile(`^backups/\d{4}-\d\d-\d\d/app-[^/]+\.dump\.zst\.age\.manifest\.json$`)
	if !layout.MatchString(filepath.ToSlash(man)) {
		t.Errorf("manifest %s does not follow dest/DATE/NAME-RUNID.dump.zst.age", man)
	}
	obj := strings.TrimSuffix(man, ".manifest.json")
	if got := filesUnder(t, "backups"); len(got) != 4 {
		t.Errorf("backups holds %v, want the object, its sidecar, its manifest and its signature", got)
	}
	if data, err := os.ReadFile(obj); err != nil || !strings.HasPrefix(string(data), "age-encryption.org/v1\n") {
		t.Fatalf("%s is not an age file (%v)", obj, err)
	}

	dst := freshName(t, c)
	r = mustSluice(t, "restore", man, "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
	if !strings.Contains(r.stdout, "restore succeeded") {
		t.Errorf("restore output: %s", r.stdout)
	}
	sameContent(t, c, src, dst)
}

// testRestoreDrill makes two backups and proves plans/restore-drill.yaml
// restores the newer one into a throwaway cluster and gates on its checks.
func testRestoreDrill(t *testing.T, c *pg.Cluster) {
	src := seeded(t, c)
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")
	backupWithPlan(t, c.DSN(src), "--param", "name=first")
	marker := pgtest.Marker(t, c, src) // only in the second backup
	backupWithPlan(t, c.DSN(src), "--param", "name=second")
	// An incomplete, newer-looking object without a manifest is ignored.
	day := filepath.Dir(newestManifest(t, "backups"))
	if err := os.WriteFile(filepath.Join(day, "zzz-partial.dump.zst.age"), []byte("age-encryption.org/v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	drill := repoFile(t, "plans/restore-drill.yaml")
	check := "verify=SELECT count(*) = 1 FROM public.markers WHERE marker = '" + marker + "'"
	r := mustSluice(t, "run", drill, "--param", check, "--param", "min_tables=4", "--param", "min_rows=1000", "--state-dir", ".sluice")
	if !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("drill output: %s\n%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "second-") {
		t.Errorf("drill log does not name the newest backup:\n%s", r.stderr)
	}

	// The gate fails when the content check fails.
	r = sluiceCLI(t, "run", drill, "--param", "verify=SELECT count(*) = 0 FROM public.markers", "--state-dir", ".sluice")
	if r.code != exitGateFailed || !strings.Contains(r.stderr, "the verify query did not return true") {
		t.Fatalf("drill with a failing check: exit %d, want %d\n%s", r.code, exitGateFailed, r.stderr)
	}
}
