package tlsaudit

import (
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// output is one fact of a report as the check-tls step returns it: its
// declaration (name, type, what it holds) next to how a report gives it, so
// that what the step declares and what it returns come from one list.
type output struct {
	spec  runner.OutputSpec
	value func(r *Report) any
}

// outputs are every output of the check-tls step, in the order `sluice
// steps check-tls` lists them. A map's Doc names each of its keys (a test
// holds it to that).
var outputs = []output{
	{runner.OutputSpec{Name: "address", Type: "string", Doc: "host:port probed"},
		func(r *Report) any { return r.Target.Addr() }},
	{runner.OutputSpec{Name: "kind", Type: "string", Doc: "postgres (SSLRequest, then TLS) or tls"},
		func(r *Report) any { return r.Target.Kind }},
	{runner.OutputSpec{Name: "tls", Type: "bool", Doc: "a TLS handshake completed with the default client settings (when it did not, the certificate is still read and checked with every cipher suite Go knows)"},
		func(r *Report) any { return r.Cert != nil && r.HandshakeError == "" }},
	{runner.OutputSpec{Name: "offered", Type: "bool", Doc: "the server offered TLS (PostgreSQL answered S to SSLRequest)"},
		func(r *Report) any { return r.Offered }},
	{runner.OutputSpec{Name: "handshake_error", Type: "string", Doc: "why the main handshake failed, if it did"},
		func(r *Report) any { return r.HandshakeError }},
	{runner.OutputSpec{Name: "version", Type: "string", Doc: "negotiated protocol version: TLSv1.3, TLSv1.2, ... (empty without TLS)"},
		func(r *Report) any { return r.Version }},
	{runner.OutputSpec{Name: "cipher", Type: "string", Doc: "negotiated cipher suite (IANA name)"},
		func(r *Report) any { return r.Cipher }},
	{runner.OutputSpec{Name: "group", Type: "string", Doc: "negotiated key exchange group, e.g. X25519MLKEM768, X25519 (empty when none)"},
		func(r *Report) any { return r.Group }},
	{runner.OutputSpec{Name: "alpn", Type: "string", Doc: "negotiated application protocol (ALPN), empty when none"},
		func(r *Report) any { return r.ALPN }},
	{runner.OutputSpec{Name: "accepts", Type: "map", Doc: "per version, whether a handshake pinned to it succeeded: tls10, tls11, tls12, tls13 (bool)"},
		func(r *Report) any {
			accepts := map[string]any{}
			for _, v := range Versions {
				accepts[v.Key] = r.Accepts[v.Key]
			}
			return accepts
		}},
	{runner.OutputSpec{Name: "ciphers", Type: "map", Doc: "TLS 1.2 handshakes offering one weak group each: checked (false when TLS 1.2 is refused), accepts_rc4, accepts_3des, accepts_rsa_kex (static RSA key exchange, no forward secrecy), accepts_cbc (AES-CBC) (bool), suites (group -> the suite the server chose)"},
		func(r *Report) any { return r.Ciphers.outputs() }},
	{runner.OutputSpec{Name: "cert", Type: "map", Doc: "leaf certificate: subject, issuer, dns_names, ip_addresses, key_type, key_bits, signature_algorithm, not_before, not_after (RFC 3339), days_left, chain_days_left (minimum over the sent chain), chain_expires_first (the subject of the certificate that expires first), chain_length, self_signed, not_yet_valid, sha256; empty without TLS"},
		func(r *Report) any {
			c := r.Cert
			if c == nil {
				return map[string]any{}
			}
			return map[string]any{
				"subject": c.Subject, "issuer": c.Issuer, "dns_names": runner.List(c.DNSNames), "ip_addresses": runner.List(c.IPAddresses),
				"key_type": c.KeyType, "key_bits": int64(c.KeyBits), "signature_algorithm": c.SignatureAlgorithm,
				"not_before": c.NotBefore.Format(time.RFC3339), "not_after": c.NotAfter.Format(time.RFC3339),
				"days_left": int64(c.DaysLeft), "chain_days_left": int64(c.ChainDaysLeft), "chain_expires_first": c.ChainExpiresFirst,
				"chain_length": int64(c.ChainLength), "self_signed": c.SelfSigned, "not_yet_valid": c.NotYetValid, "sha256": c.SHA256,
			}
		}},
	{runner.OutputSpec{Name: "chain", Type: "map", Doc: "verified (bool), error (why not), roots (ca file, dsn sslrootcert or system), trusted_if_valid (verification failed only because a certificate is outside its validity period)"},
		func(r *Report) any {
			return map[string]any{"verified": r.Chain.Verified, "error": r.Chain.Error, "roots": r.Chain.Roots,
				"trusted_if_valid": r.Chain.TrustedIfValid}
		}},
	{runner.OutputSpec{Name: "hostname", Type: "map", Doc: "name (checked), matched (bool), error"},
		func(r *Report) any {
			return map[string]any{"name": r.Hostname.Name, "matched": r.Hostname.Matched, "error": r.Hostname.Error}
		}},
	{runner.OutputSpec{Name: "plaintext", Type: "map", Doc: "checked, accepted (pg_hba admits an unencrypted connection), auth (what it then asked for: trust, password, md5, scram-sha-256...; no credentials are sent without TLS), authenticated (a session without TLS and without a password: trust), detail"},
		func(r *Report) any {
			return map[string]any{"checked": r.Plaintext.Checked, "accepted": r.Plaintext.Accepted,
				"auth": r.Plaintext.Auth, "authenticated": r.Plaintext.Authenticated, "detail": r.Plaintext.Detail}
		}},
	{runner.OutputSpec{Name: "server", Type: "map", Doc: "the server's own view over SQL: connected, settings (ssl, ssl_min_protocol_version, ssl_max_protocol_version, ssl_ciphers, password_encryption), session (this session's pg_stat_ssl: ssl, version, cipher, bits), hba_read, hba_nontls_rules (list of pg_hba lines admitting TCP without TLS), unreadable (part -> why); empty for tls:// targets"},
		serverOutput},
	{runner.OutputSpec{Name: "direct", Type: "map", Doc: "with direct: true: supported, alpn, error (PostgreSQL 17 direct TLS); empty otherwise"},
		func(r *Report) any {
			if d := r.Direct; d != nil {
				return map[string]any{"supported": d.Supported, "alpn": d.ALPN, "error": d.Error}
			}
			return map[string]any{}
		}},
	{runner.OutputSpec{Name: "findings", Type: "list", Doc: "findings, most severe first: id, severity, title, evidence, fix"},
		func(r *Report) any {
			findings := []any{}
			for _, f := range r.Findings {
				findings = append(findings, map[string]any{"id": f.ID, "severity": f.Severity.String(), "title": f.Title,
					"evidence": f.Evidence, "fix": f.Fix})
			}
			return findings
		}},
	{runner.OutputSpec{Name: "finding_ids", Type: "list", Doc: "the ids of the findings, e.g. [tls11-accepted, cert-expiring]"},
		func(r *Report) any {
			ids := []any{}
			for _, f := range r.Findings {
				ids = append(ids, f.ID)
			}
			return ids
		}},
	{runner.OutputSpec{Name: "max_severity", Type: "string", Doc: "severity of the worst finding (critical, high, medium, low, info) or none"},
		func(r *Report) any {
			worst := Severity(0)
			for _, f := range r.Findings {
				worst = max(worst, f.Severity)
			}
			if worst == 0 {
				return "none"
			}
			return worst.String()
		}},
	{runner.OutputSpec{Name: "counts", Type: "map", Doc: "number of findings per severity: critical, high, medium, low, info"},
		func(r *Report) any {
			counts := map[string]any{}
			for _, s := range severityNames[1:] {
				counts[s] = int64(0)
			}
			for _, f := range r.Findings {
				counts[f.Severity.String()] = counts[f.Severity.String()].(int64) + 1
			}
			return counts
		}},
}

// serverOutput is the server's own view, as the server output holds it.
func serverOutput(r *Report) any {
	s := r.Server
	if s == nil {
		return map[string]any{}
	}
	settings := map[string]any{}
	for k, v := range s.Settings {
		settings[k] = v
	}
	unreadable := map[string]any{}
	for k, v := range s.Unreadable {
		unreadable[k] = v
	}
	rules := []any{}
	for _, h := range s.HBARules {
		rules = append(rules, h.String())
	}
	sv := map[string]any{"connected": s.Connected, "settings": settings, "session": map[string]any{},
		"hba_read": s.HBARead, "hba_nontls_rules": rules, "unreadable": unreadable}
	if ss := s.Session; ss != nil {
		sv["session"] = map[string]any{"ssl": ss.SSL, "version": ss.Version, "cipher": ss.Cipher, "bits": int64(ss.Bits)}
	}
	return sv
}

// OutputSpecs declares the outputs of the check-tls step: the facts
// Outputs returns.
func OutputSpecs() []runner.OutputSpec {
	specs := make([]runner.OutputSpec, len(outputs))
	for i, o := range outputs {
		specs[i] = o.spec
	}
	return specs
}

// Outputs returns every fact of the report as JSON-friendly values (string,
// bool, int64, []any, map[string]any) under the output names of the
// check-tls step (OutputSpecs). Nothing in it is secret: the target appears
// as host:port.
func (r *Report) Outputs() map[string]any {
	out := make(map[string]any, len(outputs))
	for _, o := range outputs {
		out[o.spec.Name] = o.value(r)
	}
	return out
}
