package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// TestIntegrationFleetBackup runs the committed plans/backup.yaml over an
// inventory of three real databases (on one throwaway cluster; one gives
// its DSN, with the password, through an environment variable, the others
// a passfile) and one unreachable target, as a user runs it: three backups
// are committed, the fourth target is reported with its error, the exit
// code is 1; --parallel 1 and --parallel 3 give the same backups (each
// opened with age, zstd and pg_restore and compared); the combined HTML
// report renders in headless Chromium. No password appears anywhere.
func TestIntegrationFleetBackup(t *testing.T) {
	tools := requireTools(t, "age", "zstd")
	requirePGTool(t, "pg_dump")
	pgRestore := requirePGTool(t, "pg_restore")
	c := pgtest.Cluster(t)
	markers := map[string]string{}
	dsns := map[string]string{}
	for _, name := range []string{"shop", "crm", "wiki"} {
		db := seeded(t, c)
		markers[name] = pgtest.Marker(t, c, db)
		dsns[name] = c.PassfileDSN(db)
		if name == "crm" {
			dsns[name] = c.DSN(db) // with the password: only ever in the environment
		}
	}
	t.Setenv("SLUICE_TEST_CRM_DSN", dsns["crm"])
	t.Chdir(t.TempDir())
	mustSluice(t, "keys", "init", "--type", "x25519", "keys/backup")
	inv := fmt.Sprintf(`version: 1
defaults:
  labels: {env: test}
targets:
  shop: {params: {db: %q, name: shop}, labels: {tier: gold}}
  crm:  {params: {db: "${{ env.SLUICE_TEST_CRM_DSN }}", name: crm}}
  wiki: {params: {db: %q, name: wiki}}
  lost: {params: {db: "postgres://backup@127.0.0.1:%d/lost?connect_timeout=5", name: lost}}
`, dsns["shop"], dsns["wiki"], closedPort(t))
	if err := os.WriteFile("fleet.yaml", []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSluice(t, "validate", repoFile(t, "plans/backup.yaml"), "--inventory", "fleet.yaml")

	sql := map[string]map[string]string{} // parallel -> target -> restored SQL
	for _, parallel := range []string{"3", "1"} {
		dest := "backups/p" + parallel
		start := time.Now()
		r := sluiceCLI(t, "run", repoFile(t, "plans/backup.yaml"), "--inventory", "fleet.yaml", "--parallel", parallel,
			"--param", "dest=file://./"+dest, "--state-dir", ".sluice", "--report", "html")
		t.Logf("--parallel %s: %s", parallel, time.Since(start).Round(time.Millisecond))
		if r.code != exitStepFailed {
			t.Fatalf("--parallel %s: exit %d, want 1\n%s\n%s", parallel, r.code, r.stdout, r.stderr)
		}
		for _, name := range []string{"shop", "crm", "wiki"} {
			if !regexp.MustCompile(`(?m)^target ` + name + `: succeeded in `).MatchString(r.stdout) {
				t.Errorf("--parallel %s: target %s did not succeed:\n%s", parallel, name, r.stdout)
			}
		}
		if !regexp.MustCompile(`(?m)^target lost: failed in .*step "dump": .*(connection refused|connect)`).MatchString(r.stdout) {
			t.Errorf("--parallel %s: the unreachable target is not reported with its error:\n%s", parallel, r.stdout)
		}
		if !strings.Contains(r.stderr, "sluice: error: 1 of 4 targets did not succeed: lost") {
			t.Errorf("--parallel %s: stderr:\n%s", parallel, r.stderr)
		}
		sql[parallel] = openBackups(t, dest, tools, pgRestore)
		if got := sortedKeys(sql[parallel]); strings.Join(got, ",") != "crm,shop,wiki" {
			t.Fatalf("--parallel %s committed backups of %v, want crm, shop and wiki", parallel, got)
		}
		for name, s := range sql[parallel] {
			for other, m := range markers {
				if strings.Contains(s, m) != (other == name) {
					t.Errorf("--parallel %s: backup of %s has marker of %s: %v", parallel, name, other, strings.Contains(s, m))
				}
			}
		}
	}
	for name, s := range sql["3"] {
		if s != sql["1"][name] {
			t.Errorf("target %s: --parallel 1 and --parallel 3 backups differ", name)
		}
	}

	// No password anywhere: output was checked by the redactor, files here.
	for _, dir := range []string{".sluice", "backups"} {
		for _, f := range filesUnder(t, dir) {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), c.Password) {
				t.Errorf("%s/%s holds the cluster's password", dir, f)
			}
		}
	}

	page := findNewestFleetHTML(t)
	chromium := testenv.LookPath(t, "chromium", "headless Chromium renders the combined report")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dom, errs, err := runChromium(ctx, chromium, chromiumArgs(t, "--dump-dom", "file://"+page))
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, errs)
	}
	checkConsole(t, errs)
	for _, want := range []string{`<span class="verdict">FAIL</span>`, `over 4 targets`, `3 succeeded`, `id="target-lost"`, `<a href="#target-crm">crm</a>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if n := strings.Count(dom, `<tr data-target=`); n != 4 {
		t.Errorf("targets table has %d rows, want 4", n)
	}
	shot := filepath.Join(t.TempDir(), "fleet.png")
	if _, errs, err = runChromium(ctx, chromium, chromiumArgs(t, "--hide-scrollbars", "--window-size=1100,900", "--screenshot="+shot, "file://"+page)); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, errs)
	}
	if png, err := os.ReadFile(shot); err != nil || len(png) < 10_000 {
		t.Fatalf("screenshot missing or empty (%d bytes): %v", len(png), err)
	} else if os.Getenv("SLUICE_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(repoFile(t, "docs/fleet-report.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// openBackups opens every backup under dest with the standard tools (age,
// zstd, pg_restore to SQL) and returns each one's SQL by backup name
// (shop, crm, ...). The \restrict lines of recent pg_restore releases carry
// a random key per invocation and are left out.
func openBackups(t *testing.T, dest string, tools map[string]string, pgRestore string) map[string]string {
	t.Helper()
	keys, _ := filepath.Glob("keys/backup/k-*.key")
	if len(keys) != 1 {
		t.Fatalf("key files %v, want one", keys)
	}
	out := map[string]string{}
	for _, f := range filesUnder(t, dest) {
		if !strings.HasSuffix(f, ".dump.zst.age") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dest, f+".manifest.json")); err != nil {
			t.Errorf("%s has no manifest: %v", f, err)
		}
		name, _, _ := strings.Cut(filepath.Base(f), "-")
		if _, dup := out[name]; dup {
			t.Errorf("two backups of %s under %s", name, dest)
		}
		s, err := bashOutput(`set -o pipefail; "$1" -d -i "$2" "$3" | "$4" -d | "$5" -f - | grep -v '^\\\(un\)\?restrict '`,
			tools["age"], keys[0], filepath.Join(dest, f), tools["zstd"], pgRestore)
		if err != nil {
			t.Fatalf("opening %s: %v\n%s", f, err, s)
		}
		out[name] = s
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// findNewestFleetHTML returns the combined HTML report of the newest fleet
// under .sluice.
func findNewestFleetHTML(t *testing.T) string {
	t.Helper()
	var newest string
	for _, f := range filesUnder(t, ".sluice/runs") {
		dir, file := filepath.Split(f)
		if file == "report.html" && fileExists(filepath.Join(".sluice/runs", dir, "fleet.json")) && f > newest {
			newest = f
		}
	}
	if newest == "" {
		t.Fatalf("no fleet report.html under .sluice/runs: %v", filesUnder(t, ".sluice/runs"))
	}
	abs, err := filepath.Abs(filepath.Join(".sluice/runs", newest))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
