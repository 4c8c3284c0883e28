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
		Outputs: []runner.OutputSpec{
			{Name: "address", Type: "string", Doc: "host:port probed"},
			{Name: "kind", Type: "string", Doc: "postgres (SSLRequest, then TLS) or tls"},
			{Name: "tls", Type: "bool", Doc: "a TLS handshake completed"},
			{Name: "offered", Type: "bool", Doc: "the server offered TLS (PostgreSQL answered S to SSLRequest)"},
			{Name: "handshake_error", Type: "string", Doc: "why the main handshake failed, if it did"},
			{Name: "version", Type: "string", Doc: "negotiated protocol version: TLSv1.3, TLSv1.2, ... (empty without TLS)"},
			{Name: "cipher", Type: "string", Doc: "negotiated cipher suite (IANA name)"},
			{Name: "group", Type: "string", Doc: "negotiated key exchange group, e.g. X25519MLKEM768, X25519 (empty when none)"},
			{Name: "alpn", Type: "string", Doc: "negotiated application protocol (ALPN), empty when none"},
			{Name: "accepts", Type: "map", Doc: "per version, whether a handshake pinned to it succeeded: tls10, tls11, tls12, tls13 (bool)"},
			{Name: "ciphers", Type: "map", Doc: "TLS 1.2 handshakes offering one weak group each: checked (false when TLS 1.2 is refused), accepts_rc4, accepts_3des, accepts_rsa_kex (static RSA key exchange, no forward secrecy), accepts_cbc (AES-CBC) (bool), suites (group -> the suite the server chose)"},
			{Name: "cert", Type: "map", Doc: "leaf certificate: subject, issuer, dns_names, ip_addresses, key_type, key_bits, signature_algorithm, not_before, not_after (RFC 3339), days_left, chain_days_left (minimum over the sent chain), chain_length, self_signed, not_yet_valid, sha256; empty without TLS"},
			{Name: "chain", Type: "map", Doc: "verified (bool), error (why not), roots (ca file, dsn sslrootcert or system)"},
			{Name: "hostname", Type: "map", Doc: "name (checked), matched (bool), error"},
			{Name: "plaintext", Type: "map", Doc: "checked, accepted (pg_hba admits an unencrypted connection), auth (what it then asked for: trust, password, md5, scram-sha-256...; no credentials are sent without TLS), authenticated (a session without TLS and without a password: trust), detail"},
			{Name: "server", Type: "map", Doc: "the server's own view over SQL: connected, settings (ssl, ssl_min_protocol_version, ssl_max_protocol_version, ssl_ciphers, password_encryption), session (this session's pg_stat_ssl: ssl, version, cipher, bits), hba_read, hba_nontls_rules (list of pg_hba lines admitting TCP without TLS), unreadable (part -> why)"},
			{Name: "direct", Type: "map", Doc: "with direct: true: supported, alpn, error (PostgreSQL 17 direct TLS)"},
			{Name: "findings", Type: "list", Doc: "findings, most severe first: id, severity, title, evidence, fix"},
			{Name: "finding_ids", Type: "list", Doc: "the ids of the findings, e.g. [tls11-accepted, cert-expiring]"},
			{Name: "max_severity", Type: "string", Doc: "severity of the worst finding (critical, high, medium, low, info) or none"},
			{Name: "counts", Type: "map", Doc: "number of findings per severity: critical, high, medium, low, info"},
		},
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
	FailOn     string          `yaml:"fail_on" default:"high" doc:"fail the step when a finding is at or above this severity: critical, high, medium, low, info or none"`
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
	if _, err := tlsaudit.ParseSeverity(c.FailOn); err != nil {
		return fmt.Errorf("fail_on: %w", err)
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
		if sc != nil && sc.Logger != nil {
			sc.Logger.Warn("tls finding", "id", f.ID, "severity", f.Severity.String(), "title", f.Title, "evidence", f.Evidence, "fix", f.Fix)
		}
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
