package tlsaudit

import (
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Severity ranks findings; higher is worse.
type Severity int

// Severities, from least to most severe.
const (
	Info Severity = iota + 1
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"", "info", "low", "medium", "high", "critical"}

// String returns the lower-case name: info, low, medium, high, critical.
func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses a severity name; "none" gives 0, which no finding
// reaches.
func ParseSeverity(s string) (Severity, error) {
	if s == "none" {
		return 0, nil
	}
	for i, n := range severityNames {
		if i > 0 && n == s {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use critical, high, medium, low, info or none", s)
}

// Finding is one problem (or noteworthy fact) the audit found.
type Finding struct {
	ID       string // stable, kebab-case: tls10-accepted
	Severity Severity
	Title    string // what is wrong, one line
	Evidence string // what the probe saw
	Fix      string // what to change
}

// evaluate derives the findings from the facts, most severe first.
func evaluate(r *Report, c Config) []Finding {
	var fs []Finding
	add := func(id string, sev Severity, title, evidence, fix string) {
		fs = append(fs, Finding{ID: id, Severity: sev, Title: title, Evidence: evidence, Fix: fix})
	}
	pgTarget := r.Target.Kind == KindPostgres
	switch {
	case !r.Offered && pgTarget:
		add("tls-not-offered", Critical, "the server does not offer TLS", r.HandshakeError,
			"set ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then reload")
	case r.Cert == nil, r.HandshakeError != "":
		add("tls-handshake-failed", High, "no TLS handshake completed with the default client settings", r.HandshakeError,
			"check the server's TLS configuration and certificate; the error says which side refused")
	}
	for _, v := range Versions[:2] {
		if r.Accepts[v.Key] {
			add(v.Key+"-accepted", High, v.Name+" is accepted (TLS older than 1.2)",
				"a handshake pinned to "+v.Name+" succeeded",
				"set ssl_min_protocol_version = 'TLSv1.2' (PostgreSQL) or the endpoint's minimum version to TLS 1.2")
		}
	}
	if r.Cert != nil && !r.Accepts["tls13"] {
		add("tls13-not-accepted", Low, "TLS 1.3 is not accepted", r.Rejects["tls13"],
			"allow TLSv1.3 (ssl_max_protocol_version empty or 'TLSv1.3') with an OpenSSL that supports it")
	}
	fs = append(fs, cipherFindings(r.Ciphers)...)
	if r.Cert != nil {
		fs = append(fs, certFindings(r, c)...)
	}
	if p := r.Plaintext; p.Checked && p.Accepted {
		sev, title := High, "unencrypted connections are admitted to authentication"
		switch {
		case p.Authenticated:
			sev, title = Critical, "a session can be established without TLS and without a password"
		case p.Auth == "password":
			sev, title = Critical, "clients that connect without TLS send their password in cleartext"
		}
		add("plaintext-accepted", sev, title, p.Detail,
			"use hostssl instead of host lines in pg_hba.conf, or add 'hostnossl all all 0.0.0.0/0 reject' (and ::/0) first")
	}
	if r.Server != nil {
		fs = append(fs, serverFindings(r)...)
	}
	if d := r.Direct; d != nil && !d.Supported {
		add("direct-tls-unsupported", Info, "direct TLS (sslnegotiation=direct) is not supported", d.Error,
			"PostgreSQL 17 or later accepts direct TLS; clients must keep sslnegotiation=postgres until then")
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity })
	return fs
}

func certFindings(r *Report, c Config) []Finding {
	var fs []Finding
	add := func(id string, sev Severity, title, evidence, fix string) {
		fs = append(fs, Finding{ID: id, Severity: sev, Title: title, Evidence: evidence, Fix: fix})
	}
	cf := r.Cert
	if !r.Chain.Verified && !r.Chain.TrustedIfValid {
		add("chain-unverified", High, "the certificate chain does not verify against "+rootsName(r.Chain.Roots), r.Chain.Error,
			"serve a certificate issued by a CA clients trust (with its intermediates in ssl_cert_file), and give clients that CA (sslrootcert, sslmode=verify-full)")
	}
	if !r.Hostname.Matched {
		add("hostname-mismatch", High, fmt.Sprintf("the certificate is not valid for %q", r.Hostname.Name), r.Hostname.Error,
			"issue the certificate with the name clients connect to in its subjectAltName")
	}
	switch d := cf.ChainDaysLeft; {
	case d < 0:
		add("cert-expired", Critical, "a certificate of the chain has expired",
			fmt.Sprintf("%s expired %d day(s) ago (leaf not after %s)", cf.ChainExpiresFirst, -d, cf.NotAfter.Format("2006-01-02")),
			"renew the certificate and reload the server")
	case d < c.ExpiryHighDays:
		add("cert-expiring", High, fmt.Sprintf("a certificate of the chain expires within %d days", c.ExpiryHighDays),
			fmt.Sprintf("%s expires in %d day(s)", cf.ChainExpiresFirst, d), "renew the certificate now and reload the server")
	case d < c.ExpiryMediumDays:
		add("cert-expiring", Medium, fmt.Sprintf("a certificate of the chain expires within %d days", c.ExpiryMediumDays),
			fmt.Sprintf("%s expires in %d day(s)", cf.ChainExpiresFirst, d), "schedule the renewal of the certificate")
	}
	if cf.NotYetValid {
		add("cert-not-yet-valid", High, "the certificate is not valid yet", "not before "+cf.NotBefore.Format("2006-01-02 15:04:05 MST"),
			"check the server's clock and the certificate's not-before date")
	}
	switch {
	case cf.KeyType == "RSA" && cf.KeyBits < 2048, cf.KeyType == "ECDSA" && cf.KeyBits < 256:
		add("weak-key", High, fmt.Sprintf("the certificate has a %d-bit %s key", cf.KeyBits, cf.KeyType),
			"leaf key "+cf.KeyType+" "+fmt.Sprint(cf.KeyBits)+" bits", "issue a certificate with an RSA key of 2048 bits or more, or ECDSA P-256")
	}
	switch weakestSignature(cf.sigAlgs) {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		add("weak-signature", High, "the certificate is signed with SHA-1", "signature algorithm "+cf.SignatureAlgorithm,
			"re-issue the certificate with a SHA-256 (or stronger) signature")
	case x509.MD5WithRSA, x509.MD2WithRSA:
		add("weak-signature", Critical, "the certificate is signed with MD5 or MD2", "signature algorithm "+cf.SignatureAlgorithm,
			"re-issue the certificate with a SHA-256 (or stronger) signature")
	}
	return fs
}

func rootsName(from string) string {
	if from == "system" {
		return "the system's CA certificates"
	}
	return "the given CA (" + from + ")"
}

func serverFindings(r *Report) []Finding {
	var fs []Finding
	add := func(id string, sev Severity, title, evidence, fix string) {
		fs = append(fs, Finding{ID: id, Severity: sev, Title: title, Evidence: evidence, Fix: fix})
	}
	sv := r.Server
	if sv.Settings["password_encryption"] == "md5" {
		add("password-encryption-md5", Medium, "new passwords are stored as MD5 hashes", "password_encryption = md5",
			"set password_encryption = 'scram-sha-256' and reset the passwords of existing roles")
	}
	if v := sv.Settings["ssl_min_protocol_version"]; v == "TLSv1" || v == "TLSv1.1" {
		add("ssl-min-protocol-low", Low, "the server's minimum TLS version is below TLS 1.2", "ssl_min_protocol_version = "+v,
			"set ssl_min_protocol_version = 'TLSv1.2'")
	}
	if len(sv.HBARules) > 0 {
		add("hba-allows-plaintext", Medium, "pg_hba.conf admits TCP connections without TLS", describeRules(sv.HBARules),
			"change these host/hostnossl lines to hostssl, or put 'hostnossl all all 0.0.0.0/0 reject' (and ::/0) before them")
	}
	if r.Offered && sv.dsnPlaintext != "" {
		add("dsn-session-unencrypted", Medium, "the given DSN connects without TLS although the server offers it",
			sv.dsnPlaintext, "use sslmode=verify-full (with sslrootcert) in clients' connection strings")
	}
	if len(sv.Unreadable) > 0 {
		keys := slices.Sorted(maps.Keys(sv.Unreadable))
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+sv.Unreadable[k])
		}
		add("server-view-incomplete", Info, "part of the server's own view could not be read", strings.Join(parts, "; "),
			"give the audit a DSN with credentials; reading pg_hba_file_rules needs superuser or GRANT SELECT ON pg_hba_file_rules")
	}
	return fs
}

// weakestSignature returns the weakest of algs: MD5/MD2 before SHA-1
// before anything else (which is returned as UnknownSignatureAlgorithm).
func weakestSignature(algs []x509.SignatureAlgorithm) x509.SignatureAlgorithm {
	weakest := x509.UnknownSignatureAlgorithm
	for _, a := range algs {
		switch a {
		case x509.MD5WithRSA, x509.MD2WithRSA:
			return a
		case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
			weakest = a
		}
	}
	return weakest
}
