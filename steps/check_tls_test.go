package steps

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

func runTLSPlan(t *testing.T, plan string, params map[string]any) *runner.Report {
	t.Helper()
	p, err := runner.Load("tls.yaml", []byte(plan), Builtin())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{Params: params, StateDir: t.TempDir()})
	if err != nil && rep == nil {
		t.Fatal(err)
	}
	return rep
}

func TestCheckTLSFailOn(t *testing.T) {
	leaf := tlstest.SelfSigned(t, tlstest.Options{})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	plan := `version: 1
params:
  target: {type: string}
  fail_on: {type: string, default: high}
steps:
  tls: {type: check-tls, with: {target: "${{ params.target }}", fail_on: "${{ params.fail_on }}"}}
`
	rep := runTLSPlan(t, plan, map[string]any{"target": target})
	s := rep.Step("tls")
	if rep.Status != runner.StatusFailed || s.Status != runner.StatusFailed ||
		!strings.Contains(s.Error, "chain-unverified (high)") || !strings.Contains(s.Error, "raise fail_on") {
		t.Fatalf("run %s, step %s: %s", rep.Status, s.Status, s.Error)
	}

	rep = runTLSPlan(t, plan, map[string]any{"target": target, "fail_on": "critical"})
	if s = rep.Step("tls"); rep.Status != runner.StatusSucceeded {
		t.Fatalf("with fail_on critical: run %s: %s", rep.Status, s.Error)
	}
	ids, _ := json.Marshal(s.Outputs["finding_ids"])
	// Go's default server suites include ECDHE with AES-CBC: a low finding.
	if string(ids) != `["chain-unverified","cipher-cbc-accepted"]` || s.Outputs["max_severity"] != "high" {
		t.Errorf("finding_ids %s, max_severity %v", ids, s.Outputs["max_severity"])
	}
}

func TestCheckTLSGateOnFacts(t *testing.T) {
	ca := tlstest.NewCA(t, "sluice test CA")
	leaf := ca.Issue(t, tlstest.Options{NotAfter: time.Now().Add(20 * 24 * time.Hour)})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS12})
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	plan := `version: 1
params:
  target: {type: string}
  ca: {type: string}
steps:
  tls:
    type: check-tls
    with: {target: "${{ params.target }}", ca: "${{ params.ca }}", fail_on: none}
    assert:
      - that: steps.tls.accepts.tls11 == false
        message: TLS 1.1 accepted
      - that: steps.tls.cert.days_left > 30
        message: certificate expires soon
`
	rep := runTLSPlan(t, plan, map[string]any{"target": target, "ca": caFile})
	s := rep.Step("tls")
	if s.Status != runner.StatusFailed || len(s.Gates) != 2 || s.Gates[0].Passed || s.Gates[1].Passed {
		t.Fatalf("step %s gates %+v: %s", s.Status, s.Gates, s.Error)
	}
	if !strings.Contains(s.Gates[0].Operands, "steps.tls.accepts.tls11 = true") ||
		!strings.Contains(s.Gates[1].Operands, "steps.tls.cert.days_left = 19") {
		t.Errorf("gate operands %q / %q", s.Gates[0].Operands, s.Gates[1].Operands)
	}
}

func TestCheckTLSValidate(t *testing.T) {
	for _, tc := range []struct{ with, want string }{
		{`{target: "tls://127.0.0.1:5432", fail_on: severe}`, `with.fail_on: "severe" is not one of critical, high, medium, low, info, none`},
		{`{target: "tls://127.0.0.1"}`, "give tls://host:port"},
		{`{target: "host=/var/run/postgresql"}`, "not a unix socket"},
		{`{target: "tls://127.0.0.1:1", client_cert: a.pem}`, "give both or neither"},
	} {
		plan := "version: 1\nsteps:\n  tls: {type: check-tls, with: " + tc.with + "}\n"
		_, err := runner.Load("tls.yaml", []byte(plan), Builtin())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("with %s: err = %v, want %q", tc.with, err, tc.want)
		}
	}
}

// TestIntegrationTLSAuditPlan runs plans/tls-audit.yaml against a real
// cluster that serves a certificate from a test CA and only accepts TLS.
func TestIntegrationTLSAuditPlan(t *testing.T) {
	ca := tlstest.NewCA(t, "sluice test CA")
	leaf := ca.Issue(t, tlstest.Options{})
	c := pgtest.Start(t, pg.Options{
		Password: "tls-plan-test-pw",
		Files:    map[string][]byte{"server.crt": leaf.CertPEM, "server.key": leaf.KeyPEM},
		Conf:     []string{"ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"},
		HBA:      []string{"hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject"},
	})
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	src, err := os.ReadFile(filepath.Join("..", "plans", "tls-audit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.Load("plans/tls-audit.yaml", src, Builtin())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{
		Params: map[string]any{"db": c.DSN("postgres"), "ca": caFile}, StateDir: t.TempDir()})
	js, _ := json.Marshal(rep)
	if err != nil || rep.Status != runner.StatusSucceeded {
		t.Fatalf("run: %v: %s", err, js)
	}
	if strings.Contains(string(js), "tls-plan-test-pw") {
		t.Errorf("report leaks the password: %s", js)
	}
	out := rep.Step("tls").Outputs
	cert := out["cert"].(map[string]any)
	server := out["server"].(map[string]any)
	if out["version"] != "TLSv1.3" || cert["days_left"] != float64(364) && cert["days_left"] != int64(364) ||
		server["hba_read"] != true || out["plaintext"].(map[string]any)["accepted"] != false {
		t.Errorf("outputs: %s", js)
	}
	ids, _ := json.Marshal(out["finding_ids"])
	// PostgreSQL's default ssl_ciphers (HIGH:MEDIUM:+3DES:!aNULL) accept
	// AES-CBC suites on TLS 1.2: a low finding.
	want := `["cipher-cbc-accepted"]`
	if c.Version.Major < 17 {
		want = `["cipher-cbc-accepted","direct-tls-unsupported"]`
	}
	if out["ciphers"].(map[string]any)["accepts_cbc"] != true {
		t.Errorf("ciphers output %v, want accepts_cbc", out["ciphers"])
	}
	if string(ids) != want {
		t.Errorf("finding_ids %s, want %s", ids, want)
	}
	if g := rep.Step("gates"); g.Status != runner.StatusSucceeded || len(g.Gates) != 5 {
		t.Errorf("gates %+v", g)
	}
}
