package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/metrics"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

// TestIntegrationMetrics runs Debian's Pushgateway and Prometheus (scraping
// the Pushgateway, with the shipped alert rules) on free 127.0.0.1 ports,
// as their packages' services do but as this test's own processes with
// temporary data folders; plans/backup.yaml backs up a throwaway
// PostgreSQL cluster with TLS and plans/tls-audit.yaml audits it, both
// pushing their metrics and writing metrics files; Prometheus' HTTP API
// then returns the metrics with the expected labels and values. Every
// exposition sluice writes passes promtool check metrics.
func TestIntegrationMetrics(t *testing.T) {
	tools := requireTools(t, "age", "zstd", "prometheus", "prometheus-pushgateway", "promtool")
	requirePGTool(t, "pg_dump")
	ca := tlstest.NewCA(t, "sluice metrics CA")
	notAfter := time.Now().Add(45 * 24 * time.Hour).Truncate(time.Second)
	leaf := ca.Issue(t, tlstest.Options{IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}, NotAfter: notAfter})
	c := pgtest.Start(t, pg.Options{
		Files: map[string][]byte{"server.crt": leaf.CertPEM, "server.key": leaf.KeyPEM},
		Conf:  []string{"ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'", "ssl_min_protocol_version = 'TLSv1.2'"},
		HBA:   []string{"hostnossl all all 127.0.0.1/32 reject", "hostssl all all 127.0.0.1/32 trust"},
	})
	if err := c.CreateDB(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	pgtest.Seed(t, c, "app")
	dir := t.TempDir()
	t.Chdir(dir)
	caFile := tlstest.WriteFile(t, dir, "ca.pem", ca.PEM)
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=verify-full&sslrootcert=%s", c.Port, caFile)

	pgw := startService(t, tools["prometheus-pushgateway"], func(addr string) []string {
		return []string{"--web.listen-address=" + addr}
	})
	prom := startService(t, tools["prometheus"], func(addr string) []string {
		cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{targets: [%q]}]
`, repoFile(t, "docs/monitoring/sluice-alerts.yml"), pgw.Host)
		file := filepath.Join(t.TempDir(), "prometheus.yml")
		if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{"--config.file=" + file, "--storage.tsdb.path=" + t.TempDir(), "--web.listen-address=" + addr}
	})

	if err := os.Mkdir("textfile", 0o755); err != nil {
		t.Fatal(err)
	}
	mustSluice(t, "keys", "init", "keys/backup")
	mustSluice(t, "run", repoFile(t, "plans/backup.yaml"), "--param", "db="+dsn, "--log-level", "warn",
		"--pushgateway", pgw.String(), "--metrics-file", "textfile/backup.prom")
	backupRep := latestReport(t)
	res := sluiceCLI(t, "run", repoFile(t, "plans/tls-audit.yaml"), "--param", "db="+dsn, "--param", "ca="+caFile, "--log-level", "warn",
		"--pushgateway", pgw.String(), "--metrics-file", "textfile/tls.prom")
	if res.code != exitOK {
		t.Fatalf("tls audit: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	tlsRep := latestReport(t)
	cat := mustSluice(t, "backups", "metrics", "backups", "--key-dir", "keys/backup")
	if err := os.WriteFile("catalog.prom", []byte(cat.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"textfile/backup.prom", "textfile/tls.prom", "catalog.prom"} {
		checkMetrics(t, tools["promtool"], f)
	}
	// A fleet run pushes the same plan for another target (the API the
	// inventory fan-out calls): a group of its own.
	if err := metrics.Push(context.Background(), pgw.String(), metrics.Run(backupRep, metrics.RunOptions{Target: "db2"})); err != nil {
		t.Fatal(err)
	}

	abs, _ := filepath.Abs("backups")
	keys, _ := filepath.Abs("keys/backup")
	upload := backupRep.Step("upload")
	addr := tlsRep.Step("tls").Outputs["address"].(string)
	counts := tlsRep.Step("tls").Outputs["counts"].(map[string]any)
	for _, q := range []struct {
		query  string
		labels map[string]string
		value  float64
	}{
		{`sluice_run_success{plan="backup",target=""}`, map[string]string{"job": "sluice"}, 1},
		{`sluice_run_success{plan="backup",target="db2"}`, map[string]string{"job": "sluice"}, 1},
		{`sluice_run_success{plan="tls-audit"}`, map[string]string{"job": "sluice"}, 1},
		{`sluice_backup_last_success_size_bytes{plan="backup",target=""}`, map[string]string{"dest": "file://" + abs, "database": "app"}, upload.Outputs["bytes"].(float64)},
		{`sluice_backup_last_success_timestamp_seconds{plan="backup",target=""}`, map[string]string{"dest": "file://" + abs, "database": "app"}, float64(upload.Finished.UnixNano()) / 1e9},
		{`sluice_step_input_bytes{plan="backup",step="upload",target=""}`, map[string]string{"type": "upload"}, float64(upload.Bytes.In)},
		{`sluice_key_active_since_timestamp_seconds{plan="backup",target=""}`, map[string]string{"store": keys}, -1},
		{`sluice_tls_cert_expiry_timestamp_seconds{plan="tls-audit"}`, map[string]string{"address": addr}, float64(notAfter.Unix())},
		{`sluice_tls_findings{plan="tls-audit",severity="medium"}`, map[string]string{"address": addr}, counts["medium"].(float64)},
		{`sluice_tls_handshake_success{plan="tls-audit"}`, map[string]string{"address": addr}, 1},
		{`sluice_gate_passed{plan="tls-audit",gate="the server admits connections without TLS"}`, map[string]string{"step": "gates"}, 1},
	} {
		got := promQuery(t, prom, q.query)
		for k, v := range q.labels {
			if got.labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q (all: %v)", q.query, k, got.labels[k], v, got.labels)
			}
		}
		if q.value >= 0 && !closeTo(got.value, q.value) {
			t.Errorf("%s = %v, want %v", q.query, got.value, q.value)
		}
	}
	waitRulesHealthy(t, prom)
}

// startService starts a server binary on a free 127.0.0.1 port with the
// arguments args builds for that address, waits until /-/ready answers, and
// stops it when the test ends.
func startService(t *testing.T, bin string, args func(addr string) []string) *url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logFile := filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	logs, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args(addr)...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logs.Close()
	})
	u := &url.URL{Scheme: "http", Host: addr}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(u.String() + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("%s did not become ready on %s: %v\n%s", bin, addr, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func latestReport(t *testing.T) *runner.Report {
	t.Helper()
	id, err := runner.LatestRun(".sluice")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.ReadReport(filepath.Join(runner.RunDir(".sluice", id), runner.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

type promSample struct {
	labels map[string]string
	value  float64
}

// promQuery waits until Prometheus returns exactly one series for query
// (it scrapes every second) and returns it.
func promQuery(t *testing.T, prom *url.URL, query string) promSample {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var body struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		resp, err := http.Get(prom.String() + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
		}
		if err == nil && len(body.Data.Result) == 1 {
			r := body.Data.Result[0]
			s, _ := r.Value[1].(string)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: value %v", query, r.Value)
			}
			return promSample{labels: r.Metric, value: v}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has no single series for %s (err %v, result %+v)", query, err, body.Data.Result)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitRulesHealthy waits until Prometheus evaluated every shipped rule
// against the real series without an error.
func waitRulesHealthy(t *testing.T, prom *url.URL) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var body struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
					}
				}
			}
		}
		resp, err := http.Get(prom.String() + "/api/v1/rules")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
		}
		ok, n := err == nil, 0
		for _, g := range body.Data.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" {
					ok = false
					if r.Health == "err" {
						t.Fatalf("rule %s: %s", r.Name, r.LastError)
					}
				}
			}
		}
		if ok && n == 8 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not all evaluated healthy: %v %+v", err, body.Data.Groups)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func closeTo(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-6*max(1, b)
}
