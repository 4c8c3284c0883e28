package main

import (
	"crypto/tls"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

// TestAlertRules runs promtool on the shipped rules: they load, and their
// unit tests (docs/monitoring/sluice-alerts.test.yml) pass.
func TestAlertRules(t *testing.T) {
	promtool := requireTools(t, "promtool")["promtool"]
	dir := repoFile(t, "docs/monitoring")
	for _, args := range [][]string{{"check", "rules", "sluice-alerts.yml"}, {"test", "rules", "sluice-alerts.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertRulesOnRealMetrics feeds what sluice really writes (run metrics of
// a backup that then fails three times in a row and of a TLS audit of a
// certificate expiring in 20 days, and a catalogue's metrics) into the
// shipped rules with promtool, so that a rule and the metrics it reads
// cannot drift apart. Timestamps are shifted so that the test's time 0 is
// now.
func TestAlertRulesOnRealMetrics(t *testing.T) {
	promtool := requireTools(t, "promtool")["promtool"]
	dir := t.TempDir()
	t.Chdir(dir)
	ca := tlstest.NewCA(t, "sluice metrics CA")
	leaf := ca.Issue(t, tlstest.Options{NotAfter: time.Now().Add(20*24*time.Hour + time.Hour)})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	addr := strings.TrimPrefix(target, "tls://")
	tlstest.WriteFile(t, dir, "ca.pem", ca.PEM)
	writeFiles(t, map[string]string{"backup.yaml": fileBackupPlan, "tls.yaml": tlsPlan, "in/data.bin": "COPY t (id) FROM stdin;\n1\n"})
	if err := os.Mkdir("textfile", 0o755); err != nil {
		t.Fatal(err)
	}
	mustSluice(t, "keys", "init", "keys/backup", "--type", "x25519")
	metricsFile := "--metrics-file=textfile/sluice.prom"
	mustSluice(t, "run", "backup.yaml", metricsFile, "--log-level", "error")
	for range 3 {
		if r := sluiceCLI(t, "run", "backup.yaml", "--param", "fail=true", metricsFile, "--log-level", "error"); r.code != exitGateFailed {
			t.Fatalf("failing run: exit %d\n%s", r.code, r.stderr)
		}
	}
	mustSluice(t, "run", "tls.yaml", "--param", "target="+target, metricsFile, "--log-level", "error")
	mustSluice(t, "backups", "metrics", "out", "--key-dir", "keys/backup", "--output", "textfile/backups.prom")
	for _, f := range []string{"textfile/sluice.prom", "textfile/backups.prom"} {
		checkMetrics(t, promtool, f)
	}

	now := math.Round(float64(time.Now().Unix()))
	series := realSeries(t, now, "textfile/sluice.prom", "textfile/backups.prom")
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	dest := "file://" + abs("out")
	store := abs("keys/backup")
	age := func(at float64, s string) float64 { return at - series.value(t, s) }

	// Every alert expected from these metrics, with its value; the
	// annotations are the rules' own, filled in.
	type alert struct {
		labels map[string]string
		value  float64
	}
	tests := []struct {
		name string
		at   float64 // seconds after now
		want []alert
	}{
		{"SluiceBackupTooOld", 25 * 3600, nil},
		{"SluiceBackupTooOld", 27 * 3600, []alert{{map[string]string{"severity": "critical", "dest": dest},
			age(27*3600, `sluice_catalog_newest_backup_timestamp_seconds{database="",dest="`+dest+`"}`)}}},
		// Nothing was verified: the catalogue says 0, which is long ago.
		{"SluiceNoVerifiedBackup", 0, []alert{{map[string]string{"severity": "warning", "dest": dest},
			age(0, `sluice_catalog_newest_verified_backup_timestamp_seconds{database="",dest="`+dest+`",level="content"}`)}}},
		{"SluiceKeyRotationDue", 165 * 86400, nil},
		{"SluiceKeyRotationDue", 167 * 86400, []alert{{map[string]string{"severity": "warning", "store": store},
			age(167*86400, `sluice_catalog_key_active_since_timestamp_seconds{dest="`+dest+`",store="`+store+`"}`)}}},
		{"SluiceCertificateExpiringSoon", 0, []alert{{map[string]string{"severity": "warning", "address": addr},
			-age(0, `sluice_tls_chain_expiry_timestamp_seconds{address="`+addr+`",plan="tls"}`)}}},
		{"SluiceCertificateExpiring", 0, nil},
		{"SluiceCertificateExpiring", 7 * 86400, []alert{{map[string]string{"severity": "critical", "address": addr},
			-age(7*86400, `sluice_tls_chain_expiry_timestamp_seconds{address="`+addr+`",plan="tls"}`)}}},
		{"SluicePlanFailing", 0, []alert{{map[string]string{"severity": "critical", "plan": "backup"}, 3}}},
		{"SluiceUntrustedManifests", 0, nil},
	}

	rules := readRules(t)
	var cases []map[string]any
	for _, tc := range tests {
		exp := []map[string]any{}
		for _, a := range tc.want {
			exp = append(exp, map[string]any{"exp_labels": a.labels, "exp_annotations": rules.annotations(t, tc.name, a.labels, a.value)})
		}
		cases = append(cases, map[string]any{"eval_time": fmt.Sprintf("%ds", int64(tc.at)), "alertname": tc.name, "exp_alerts": exp})
	}
	var input []map[string]any
	for _, s := range series.names() {
		input = append(input, map[string]any{"series": s, "values": fmt.Sprintf("%sx%d", formatValue(series[s]), 24*170)})
	}
	doc := map[string]any{
		"rule_files":          []string{repoFile(t, "docs/monitoring/sluice-alerts.yml")},
		"evaluation_interval": "1h",
		"tests":               []any{map[string]any{"name": "real metrics", "interval": "1h", "input_series": input, "alert_rule_test": cases}},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("real.test.yml", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", "real.test.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules on the real metrics: %v\n%s\ntest file:\n%s", err, out, b)
	}
}

// fileBackupPlan backs up a file (no PostgreSQL needed) the way
// plans/backup.yaml does, and fails its last gate when asked to.
const fileBackupPlan = `version: 1
params:
  fail: {type: bool, default: false}
keys:
  backup: {store: dir, path: ./keys/backup}
steps:
  read: {type: download, with: {from: in/data.bin, allow_unsigned: true}}
  compress: {type: compress, input: read}
  encrypt: {type: encrypt, input: compress, with: {key: backup}}
  checksum: {type: checksum, input: encrypt}
  upload: {type: upload, input: checksum, with: {to: "file://./out/${{ run.date }}/app-${{ run.id }}.zst.age"}}
  check:
    type: assert
    needs: [upload]
    assert:
      - that: "!params.fail"
        message: asked to fail
`

// tlsPlan audits a TLS endpoint and reports whatever it finds.
const tlsPlan = `version: 1
params:
  target: {type: string, required: true}
steps:
  tls: {type: check-tls, with: {target: "${{ params.target }}", ca: ca.pem, server_name: localhost, fail_on: none}}
`

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkMetrics runs promtool check metrics, the linter of the exposition
// format, on a file sluice wrote.
func checkMetrics(t *testing.T, promtool, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
	}
}

// seriesValues maps a series, as promtool's input_series names it (labels
// sorted), to its value.
type seriesValues map[string]float64

// realSeries reads expositions; timestamps become seconds relative to now,
// whole seconds.
func realSeries(t *testing.T, now float64, files ...string) seriesValues {
	t.Helper()
	out := seriesValues{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for name, mf := range mfs {
			for _, m := range mf.GetMetric() {
				v := m.GetGauge().GetValue()
				if strings.HasSuffix(name, "_timestamp_seconds") {
					v = math.Round(v) - now
				}
				out[seriesName(name, m)] = v
			}
		}
	}
	return out
}

func seriesName(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func (s seriesValues) names() []string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s seriesValues) value(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := s[name]
	if !ok {
		t.Fatalf("sluice wrote no series %s; it wrote:\n%s", name, strings.Join(s.names(), "\n"))
	}
	return v
}

func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// ruleFile is the part of the rules file the test fills in.
type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) *ruleFile {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "docs/monitoring/sluice-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	return &rf
}

// annotations renders alert's annotations for the labels and value. The
// rules use only {{ $labels.NAME }}, {{ $value }} and
// {{ $value | humanizeDuration }}; anything else fails the test.
func (rf *ruleFile) annotations(t *testing.T, alert string, labels map[string]string, value float64) map[string]string {
	t.Helper()
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != alert {
				continue
			}
			out := map[string]string{}
			for k, tmpl := range r.Annotations {
				s := strings.ReplaceAll(tmpl, "{{ $value | humanizeDuration }}", humanizeDuration(value))
				s = strings.ReplaceAll(s, "{{ $value }}", fmt.Sprint(value))
				for {
					i := strings.Index(s, "{{ $labels.")
					if i < 0 {
						break
					}
					j := strings.Index(s[i:], " }}")
					name := s[i+len("{{ $labels.") : i+j]
					s = s[:i] + labels[name] + s[i+j+3:]
				}
				if strings.Contains(s, "{{") {
					t.Fatalf("rule %s: annotation %s uses a template this test does not render: %s", alert, k, tmpl)
				}
				out[k] = s
			}
			return out
		}
	}
	t.Fatalf("no rule %s in docs/monitoring/sluice-alerts.yml", alert)
	return nil
}

// humanizeDuration is Prometheus' template function for whole seconds of
// at least a minute, the values of these tests.
func humanizeDuration(v float64) string {
	d := int64(v)
	days, hours, minutes, seconds := d/86400, d/3600%24, d/60%60, d%60
	switch {
	case days != 0:
		return fmt.Sprintf("%dd %dh %dm %ds", days, hours, minutes, seconds)
	case hours != 0:
		return fmt.Sprintf("%dh %dm %ds", hours, minutes, seconds)
	}
	return fmt.Sprintf("%dm %ds", minutes, seconds)
}
