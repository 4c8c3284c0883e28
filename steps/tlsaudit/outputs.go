package tlsaudit

import (
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// Outputs returns every fact of the report as JSON-friendly values (string,
// bool, int64, []any, map[string]any) under the output names of the
// check-tls step. Nothing in it is secret: the target appears as host:port.
func (r *Report) Outputs() map[string]any {
	accepts := map[string]any{}
	for _, v := range Versions {
		accepts[v.Key] = r.Accepts[v.Key]
	}
	out := map[string]any{
		"address": r.Target.Addr(), "kind": r.Target.Kind,
		"tls": r.Cert != nil, "offered": r.Offered, "handshake_error": r.HandshakeError,
		"version": r.Version, "cipher": r.Cipher, "group": r.Group, "alpn": r.ALPN,
		"accepts": accepts, "ciphers": r.Ciphers.outputs(),
		"cert": map[string]any{},
		"chain": map[string]any{"verified": r.Chain.Verified, "error": r.Chain.Error, "roots": r.Chain.Roots,
			"trusted_if_valid": r.Chain.TrustedIfValid},
		"hostname": map[string]any{"name": r.Hostname.Name, "matched": r.Hostname.Matched, "error": r.Hostname.Error},
		"plaintext": map[string]any{"checked": r.Plaintext.Checked, "accepted": r.Plaintext.Accepted,
			"auth": r.Plaintext.Auth, "authenticated": r.Plaintext.Authenticated, "detail": r.Plaintext.Detail},
		"server": map[string]any{},
		"direct": map[string]any{},
	}
	if c := r.Cert; c != nil {
		out["cert"] = map[string]any{
			"subject": c.Subject, "issuer": c.Issuer, "dns_names": runner.List(c.DNSNames), "ip_addresses": runner.List(c.IPAddresses),
			"key_type": c.KeyType, "key_bits": int64(c.KeyBits), "signature_algorithm": c.SignatureAlgorithm,
			"not_before": c.NotBefore.Format(time.RFC3339), "not_after": c.NotAfter.Format(time.RFC3339),
			"days_left": int64(c.DaysLeft), "chain_days_left": int64(c.ChainDaysLeft), "chain_expires_first": c.ChainExpiresFirst,
			"chain_length": int64(c.ChainLength), "self_signed": c.SelfSigned, "not_yet_valid": c.NotYetValid, "sha256": c.SHA256,
		}
	}
	if s := r.Server; s != nil {
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
		out["server"] = sv
	}
	if d := r.Direct; d != nil {
		out["direct"] = map[string]any{"supported": d.Supported, "alpn": d.ALPN, "error": d.Error}
	}
	findings, ids := []any{}, []any{}
	counts := map[string]any{}
	for _, s := range severityNames[1:] {
		counts[s] = int64(0)
	}
	worst := Severity(0)
	for _, f := range r.Findings {
		findings = append(findings, map[string]any{"id": f.ID, "severity": f.Severity.String(), "title": f.Title,
			"evidence": f.Evidence, "fix": f.Fix})
		ids = append(ids, f.ID)
		counts[f.Severity.String()] = counts[f.Severity.String()].(int64) + 1
		worst = max(worst, f.Severity)
	}
	out["findings"], out["finding_ids"], out["counts"] = findings, ids, counts
	out["max_severity"] = "none"
	if worst > 0 {
		out["max_severity"] = worst.String()
	}
	return out
}
