package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// TestIntegrationBackupMany backs up three real databases with
// plans/backup-many.yaml (for_each over plans/backup.yaml) and restores one
// of them, compared with its source. Then a run where one database does
// not exist: that item fails the run after the other finished, and only
// the other's backup is committed.
func TestIntegrationBackupMany(t *testing.T) {
	requireTools(t, "age", "zstd")
	requirePGTool(t, "pg_dump")
	requirePGTool(t, "pg_restore")
	c := pgtest.Cluster(t)
	dbs := map[string]string{}
	markers := map[string]string{}
	for _, name := range []string{"shop", "crm", "hr"} {
		db := seeded(t, c)
		dbs[name], markers[name] = db, pgtest.Marker(t, c, db)
	}
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "keys/backup")

	args := []string{"run", repoFile(t, "plans/backup-many.yaml"), "--state-dir", ".sluice", "--log-level", "warn"}
	for name, db := range dbs {
		args = append(args, "--param", "dbs."+name+"="+c.DSN(db))
	}
	r := mustSluice(t, args...)
	for _, db := range dbs {
		if strings.Contains(r.stdout+r.stderr, c.DSN(db)) {
			t.Errorf("a DSN appears in the output:\n%s\n%s", r.stdout, r.stderr)
		}
	}
	for _, want := range []string{`(?m)^  backup\[crm\] +plan +succeeded`, `(?m)^    backup\[hr\]/upload +upload +succeeded`, `(?m)^gate pass summary: all\(steps.backup.each`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("summary lacks %s:\n%s", want, r.stdout)
		}
	}
	manifests := map[string]string{}
	for _, f := range filesUnder(t, "backups") {
		if m := regexp.MustCompile(`^\d{4}-\d\d-\d\d/(\w+)-[^/]+\.dump\.zst\.age\.manifest\.json$`).FindStringSubmatch(f); m != nil {
			manifests[m[1]] = filepath.Join("backups", filepath.FromSlash(f))
		}
	}
	if len(manifests) != 3 || manifests["shop"] == "" || manifests["crm"] == "" || manifests["hr"] == "" {
		t.Fatalf("manifests %v, want one per database: %v", manifests, filesUnder(t, "backups"))
	}

	id, err := runner.LatestRun(".sluice")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.ReadReport(filepath.Join(runner.RunDir(".sluice", id), runner.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	step := rep.Step("backup")
	if step == nil || len(step.Items) != 3 || step.Items[0].Key != "crm" || step.Items[0].Run == nil {
		t.Fatalf("backup step: %+v", step)
	}
	for _, it := range step.Items {
		if _, err := os.Stat(filepath.Join(runner.RunDir(".sluice", id), "backup", it.Key, runner.ReportFile)); err != nil {
			t.Errorf("item %s has no run folder of its own: %v", it.Key, err)
		}
		if it.Run.Params["db"] != runner.Mask {
			t.Errorf("item %s: the called plan's db param is %v, want it masked", it.Key, it.Run.Params["db"])
		}
	}
	if objs, _ := rep.Outputs["objects"].([]any); len(objs) != 3 || !strings.Contains(objs[0].(string), "/crm-") {
		t.Errorf("plan outputs %v, want the three objects in name order", rep.Outputs)
	}

	dst := freshName(t, c)
	mustSluice(t, "restore", manifests["crm"], "--to", c.DSN(dst), "--key-dir", "keys/backup", "--create", "--state-dir", ".sluice")
	sameContent(t, c, dbs["crm"], dst)
	if got := markerCount(t, c, dst, markers["crm"]); got != 1 {
		t.Errorf("restored crm holds its marker %d times, want 1", got)
	}
	if got := markerCount(t, c, dst, markers["shop"]); got != 0 {
		t.Errorf("restored crm holds shop's marker")
	}

	// A database that does not exist: its item fails after the other's
	// backup committed; nothing of it is stored.
	if err := os.RemoveAll("backups"); err != nil {
		t.Fatal(err)
	}
	r = sluiceCLI(t, "run", repoFile(t, "plans/backup-many.yaml"), "--state-dir", ".sluice", "--log-level", "warn",
		"--param", "dbs.gone="+c.DSN("no_such_database"), "--param", "dbs.shop="+c.DSN(dbs["shop"]))
	if r.code != exitStepFailed || !strings.Contains(r.stderr, `step "backup": item "gone": plan `) {
		t.Fatalf("backup of a missing database: exit %d, want %d\n%s", r.code, exitStepFailed, r.stderr)
	}
	var names []string
	for _, f := range filesUnder(t, "backups") {
		names = append(names, filepath.Base(f))
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "shop-") {
			t.Errorf("backups after a failed item: %v, want shop's files only", names)
			break
		}
	}
	if len(names) < 3 {
		t.Errorf("backups after a failed item: %v, want shop's object, sidecar and manifest", names)
	}
}

// markerCount counts rows of public.markers holding marker in db.
func markerCount(t *testing.T, c *pg.Cluster, db, marker string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM public.markers WHERE marker = $1", marker).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
