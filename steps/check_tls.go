package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/reportview"
	"github.com/sluice-dev/sluice/steps/tlsaudit"
)

func checkTLSDefinition() runner.Definition {
	return runner.Definition{
		Type:    "check-tls",
		Kind:    runner.KindAction,
		Summary: "Audit a PostgreSQL server's (or any TLS endpoint's) encryption in transit: versions, cipher, certificate, plaintext acceptance, server settings; findings with severities",
		New:     func() any { return &CheckTLS{} },
		Section: reportview.TLS,
		Outputs: tlsaudit.OutputSpecs(),
	}
}

// CheckTLS is the parameter struct of the check-tls step.
type CheckTLS struct {
	Target     string          `yaml:"target" required:"true" doc:"PostgreSQL DSN (postgres://user:pw@host:port/db or key=value) or tls://host:port for any TLS endpoint"`
	CA         string          `yaml:"ca" doc:"PEM file of the CA certificates to verify the chain against (default: the DSN's sslrootcert, else the system's)"`
	ServerName string          `yaml:"server_name" doc:"name to verify the certificate for and send as SNI (default: the target's host)"`
	ClientCert string          `yaml:"client_cert" doc:"PEM file of a client certificate to present (default: the DSN's sslcert)"`
	ClientKey  string          `yaml:"client_key" doc:"PEM file of the client certificate's key (default: the DSN's sslkey)"`
	ALPN       []string        `yaml:"alpn" doc:"application protocols to offer (default: postgresql for DSNs, none for tls://)"`
	Direct     bool            `yaml:"direct" doc:"also probe PostgreSQL 17's direct TLS (no SSLRequest, ALPN postgresql); reported unsupported on older servers"`
	Timeout    runner.Duration `yaml:"timeout" default:"10s" doc:"limit for each connection of the audit"`
	FailOn     string          `yaml:"fail_on" default:"high" enum:"critical,high,medium,low,info,none" doc:"fail the step when a finding is at or above this severity; none never fails"`
	ExpiryHigh int             `yaml:"expiry_high_days" default:"14" doc:"a certificate expiring within this many days is a high finding"`
	ExpiryMed  int             `yaml:"expiry_medium_days" default:"30" doc:"a certificate expiring within this many days is a medium finding"`
}

var (
	_ runner.Action    = (*CheckTLS)(nil)
	_ runner.Validator = (*CheckTLS)(nil)
)

// Validate checks the target's form and the thresholds.
func (c *CheckTLS) Validate() error {
	if _, err := tlsaudit.ParseTarget(c.Target); err != nil {
		return err
	}
	switch {
	case (c.ClientCert == "") != (c.ClientKey == ""):
		return fmt.Errorf("client_cert and client_key: give both or neither")
	case c.ExpiryHigh < 0 || c.ExpiryMed < c.ExpiryHigh:
		return fmt.Errorf("expiry_high_days (%d) and expiry_medium_days (%d): need 0 <= high <= medium", c.ExpiryHigh, c.ExpiryMed)
	}
	return nil
}

// Run audits the target, logs every finding and fails when one reaches
// fail_on.
func (c *CheckTLS) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	failOn, err := tlsaudit.ParseSeverity(c.FailOn)
	if err != nil {
		return nil, fmt.Errorf("fail_on: %w", err)
	}
	rep, err := tlsaudit.Audit(ctx, tlsaudit.Config{
		Target: c.Target, CAFile: c.CA, ServerName: c.ServerName, ClientCert: c.ClientCert, ClientKey: c.ClientKey,
		ALPN: c.ALPN, Direct: c.Direct, Timeout: c.Timeout.Std(), ExpiryHighDays: c.ExpiryHigh, ExpiryMediumDays: c.ExpiryMed,
	})
	if err != nil {
		return nil, fmt.Errorf("auditing TLS: %w", err)
	}
	var failing []string
	for _, f := range rep.Findings {
		sc.Logger.Warn("tls finding", "id", f.ID, "severity", f.Severity.String(), "title", f.Title, "evidence", f.Evidence, "fix", f.Fix)
		if failOn > 0 && f.Severity >= failOn {
			failing = append(failing, fmt.Sprintf("%s (%s): %s", f.ID, f.Severity, f.Title))
		}
	}
	if len(failing) > 0 {
		return rep.Outputs(), fmt.Errorf("%s: %d finding(s) at or above %s: %s; fix them or raise fail_on",
			rep.Target, len(failing), failOn, strings.Join(failing, "; "))
	}
	return rep.Outputs(), nil
}
