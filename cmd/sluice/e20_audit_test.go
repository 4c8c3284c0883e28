package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

// TestIntegrationE20Audit runs plans/e20-audit.yaml against a server set up
// as the E20 plan wants it: TLS 1.2+ only over TCP with a CA-issued
// certificate, a backup made by plans/backup.yaml, a fresh key. Every
// checklist item passes; then a key-age policy of 0 days makes the audit
// fail its gate (exit 4) with that item named. The plaintext baseline of the
// benchmark connects over ::1, where pg_hba allows it, while 127.0.0.1 takes
// TLS only, so both the plaintext-refused check and the benchmark run
// against one server. The HTML report is rendered in Chromium when present
// (SLUICE_UPDATE_SCREENSHOT=1 writes docs/e20-audit-report.png).
func TestIntegrationE20Audit(t *testing.T) {
	requireTools(t, "age", "zstd")
	ca := tlstest.NewCA(t, "sluice audit CA")
	leaf := ca.Issue(t, tlstest.Options{IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}})
	c := pgtest.Start(t, pg.Options{
		Files: map[string][]byte{"server.crt": leaf.CertPEM, "server.key": leaf.KeyPEM},
		Conf: []string{"ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'",
			"ssl_min_protocol_version = 'TLSv1.2'", "listen_addresses = '127.0.0.1,::1'"},
		HBA: []string{
			"hostnossl all all 127.0.0.1/32 reject",
			"hostssl all all 127.0.0.1/32 trust",
			"host all all ::1/128 trust",
		},
	})
	if err := c.CreateDB(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	pgtest.Seed(t, c, "app")

	dir := t.TempDir()
	t.Chdir(dir)
	caFile := tlstest.WriteFile(t, dir, "ca.pem", ca.PEM)
	tlsDSN := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=verify-full&sslrootcert=%s", c.Port, caFile)
	plainDSN := fmt.Sprintf("postgres://postgres@[::1]:%d/app?sslmode=disable", c.Port)

	mustSluice(t, "keys", "init", "keys/backup")
	mustSluice(t, "run", repoFile(t, "plans/backup.yaml"), "--param", "db="+tlsDSN, "--log-level", "warn")

	audit := func(extra ...string) (runner.Report, cliResult) {
		args := append([]string{"run", repoFile(t, "plans/e20-audit.yaml"), "--log-level", "warn",
			"--param", "db=" + tlsDSN, "--param", "db_plain=" + plainDSN, "--param", "ca=" + caFile,
			"--param", "max_duration=10s", "--param", "rounds=10",
			// Loopback exaggerates TLS cost (see README); this test proves the
			// wiring, not the 5% figure.
			"--param", "overhead_max=1000%",
			"--report", "html=audit.html"}, extra...)
		res := sluiceCLI(t, args...)
		id, err := runner.LatestRun(".sluice")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := runner.ReadReport(filepath.Join(runner.RunDir(".sluice", id), runner.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		return *rep, res
	}

	rep, res := audit()
	// The performance item measures TLS against plaintext on this machine
	// within a time budget: on a loaded machine the budget may end before
	// the interval decides, an honest "inconclusive" that fails the item
	// (exit 4). That alone is tolerated; any other failed item, missing
	// evidence, or "fail" at a 1000% limit is a real failure.
	perf := p95Verdict(rep)
	switch perf {
	case "pass":
	case "inconclusive":
		t.Logf("the performance item was inconclusive on this machine (loaded?): checking the others")
	default:
		t.Errorf("overhead p95 verdict %q, want pass (or inconclusive on a loaded machine)", perf)
	}
	if res.code != exitOK && (res.code != exitGateFailed || perf != "inconclusive") {
		t.Fatalf("audit exited %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	gates := rep.Step("checklist").Gates
	if len(gates) != 8 {
		t.Fatalf("checklist has %d items, want 8: %+v", len(gates), gates)
	}
	for _, g := range gates {
		undecided := perf == "inconclusive" && strings.HasPrefix(g.Message, "Performance:")
		if (!g.Passed && !undecided) || g.Operands == "" {
			t.Errorf("item %q: passed=%v evidence=%q", g.Message, g.Passed, g.Operands)
		}
	}
	if strings.Contains(res.stdout+res.stderr, "postgres://postgres@") {
		t.Errorf("a DSN reached the output:\n%s\n%s", res.stdout, res.stderr)
	}
	renderAuditPage(t, filepath.Join(dir, "audit.html"))

	rep, res = audit("--param", "key_max_age_days=0")
	if res.code != exitGateFailed {
		t.Fatalf("audit with a 0-day key policy exited %d, want %d\n%s", res.code, exitGateFailed, res.stderr)
	}
	if !strings.Contains(res.stderr, "Keys: backup key younger than the rotation policy") {
		t.Errorf("failure does not name the key item:\n%s", res.stderr)
	}
	// Only the key item may fail, and the performance item when it is
	// inconclusive (see above).
	perf = p95Verdict(rep)
	for _, g := range rep.Step("checklist").Gates {
		isKey := strings.HasPrefix(g.Message, "Keys:")
		undecided := perf == "inconclusive" && strings.HasPrefix(g.Message, "Performance:")
		if isKey == g.Passed && !undecided {
			t.Errorf("item %q: passed=%v (%s)", g.Message, g.Passed, g.Operands)
		}
	}
}

// p95Verdict returns the verdict at p95 of the audit's overhead plan, as
// its report records it: pass, inconclusive or fail ("" when missing).
func p95Verdict(rep runner.Report) string {
	s := rep.Step("overhead")
	if s == nil {
		return ""
	}
	outs, _ := s.Outputs["outputs"].(map[string]any)
	p95, _ := outs["p95"].(map[string]any)
	v, _ := p95["verdict"].(string)
	return v
}

// renderAuditPage loads the audit's HTML report in Chromium, checks the
// checklist is on the page without console errors, and takes the docs'
// screenshot. Without Chromium it checks the file only (and fails in CI).
func renderAuditPage(t *testing.T, page string) {
	t.Helper()
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"E20 encryption audit checklist", "In transit: TLS 1.2 or newer only", "Performance: TLS overhead"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("audit report lacks %q", want)
		}
	}
	chromium := testenv.LookPath(t, "chromium", "headless Chromium renders the audit report")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shot := filepath.Join(filepath.Dir(page), "audit.png")
	_, errs, err := runChromium(ctx, chromium, chromiumArgs(t, "--hide-scrollbars", "--window-size=1100,1800", "--screenshot="+shot, "file://"+page))
	if err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, errs)
	}
	checkConsole(t, errs)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot missing: %v", err)
	}
	if os.Getenv("SLUICE_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(repoFile(t, "docs/e20-audit-report.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
