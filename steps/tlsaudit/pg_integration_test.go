package tlsaudit

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// hba lines of the scenarios. Every TCP line uses scram-sha-256.
var (
	hbaTLSOnly     = []string{"hostssl all all 127.0.0.1/32 scram-sha-256"}
	hbaRejectNoSSL = []string{"hostnossl all all 0.0.0.0/0 reject", "host all all 127.0.0.1/32 scram-sha-256"}
	hbaPlaintext   = []string{"host all all 127.0.0.1/32 scram-sha-256"}
)

// TestIntegrationPostgres audits one real cluster reconfigured for each
// scenario and asserts the exact findings.
func TestIntegrationPostgres(t *testing.T) {
	c := startTLSCluster(t)
	dsn := c.dsn("postgres", true, "")

	t.Run("valid chain, verify-full, plaintext rejected by an earlier hostnossl reject", func(t *testing.T) {
		c.configure(t, nil, hbaRejectNoSSL...)
		r := c.audit(t, c.dsn("postgres", true, "sslmode=verify-full&sslrootcert="+c.caFile), nil)
		wantFindings(t, r)
		want := map[string]bool{"tls10": false, "tls11": false, "tls12": true, "tls13": true}
		if r.Version != "TLSv1.3" || !reflect.DeepEqual(r.Accepts, want) {
			t.Errorf("version %q accepts %v", r.Version, r.Accepts)
		}
		if !r.Chain.Verified || r.Chain.Roots != "dsn sslrootcert" || !r.Hostname.Matched {
			t.Errorf("chain %+v hostname %+v", r.Chain, r.Hostname)
		}
		if p := r.Plaintext; !p.Checked || p.Accepted || !strings.Contains(p.Detail, "rejects connection") {
			t.Errorf("plaintext %+v, want rejected by the reject line", p)
		}
		sv := r.Server
		if !sv.Connected || sv.Settings["ssl"] != "on" || sv.Settings["ssl_min_protocol_version"] != "TLSv1.2" ||
			sv.Settings["password_encryption"] != "scram-sha-256" || !sv.HBARead || len(sv.HBARules) != 0 || len(sv.Unreadable) != 0 {
			t.Errorf("server view %+v", sv)
		}
		if s := sv.Session; s == nil || !s.SSL || s.Version != "TLSv1.3" {
			t.Errorf("pg_stat_ssl row %+v", s)
		}
		opensslAgrees(t, r.Target.Addr(), "", r)
		opensslAgrees(t, r.Target.Addr(), "-tls1", r)
	})

	t.Run("direct TLS", func(t *testing.T) {
		r := c.audit(t, dsn, func(cfg *Config) { cfg.Direct = true })
		if c.Version.Major >= 17 {
			wantFindings(t, r)
			if !r.Direct.Supported || r.Direct.ALPN != "postgresql" {
				t.Errorf("direct %+v", r.Direct)
			}
			return
		}
		wantFindings(t, r, "direct-tls-unsupported:info")
		if r.Direct.Supported || !strings.Contains(r.Direct.Error, "PostgreSQL 17") {
			t.Errorf("direct %+v", r.Direct)
		}
	})

	certCases := []struct{ name, file, want string }{
		{"self-signed", "selfsigned.crt", "chain-unverified:high"},
		{"expired", "expired.crt", "cert-expired:critical"},
		{"expiring in 10 days", "expiring.crt", "cert-expiring:high"},
		{"wrong hostname", "wronghost.crt", "hostname-mismatch:high"},
	}
	for _, tc := range certCases {
		t.Run(tc.name, func(t *testing.T) {
			c.configure(t, map[string]string{"ssl_cert_file": tc.file}, hbaTLSOnly...)
			r := c.audit(t, dsn, nil)
			wantFindings(t, r, tc.want)
			if !r.Cert.NotAfter.Equal(c.leaves[tc.file].Cert.NotAfter.UTC()) {
				t.Errorf("audit saw a certificate ending %s, want the one of %s", r.Cert.NotAfter, tc.file)
			}
			if tc.file == "expiring.crt" && r.Cert.DaysLeft != 10 {
				t.Errorf("days left %d, want 10", r.Cert.DaysLeft)
			}
			if tc.file == "expired.crt" && r.Cert.DaysLeft != -3 {
				t.Errorf("days left %d, want -3", r.Cert.DaysLeft)
			}
		})
	}

	t.Run("weak cipher suites: RSA key exchange and CBC; no 3DES or RC4 in OpenSSL 3", func(t *testing.T) {
		// Asking for 3DES and RC4 too: Debian's OpenSSL 3 builds neither.
		c.configure(t, map[string]string{"ssl_cert_file": "rsa.crt", "ssl_key_file": "rsa.key",
			"ssl_ciphers": "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:3DES:RC4:@SECLEVEL=0"}, hbaTLSOnly...)
		r := c.audit(t, dsn, nil)
		wantFindings(t, r, "cipher-rsa-kex-accepted:medium", "cipher-cbc-accepted:low")
		want := map[string]string{"rsa_kex": "TLS_RSA_WITH_AES_128_CBC_SHA", "cbc": "TLS_RSA_WITH_AES_128_CBC_SHA"}
		if !reflect.DeepEqual(r.Ciphers.Suite, want) || r.Ciphers.Accepts["3des"] || r.Ciphers.Accepts["rc4"] {
			t.Errorf("ciphers %+v, want chosen %v", r.Ciphers, want)
		}
		if r.Server.Settings["ssl_ciphers"] != "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:3DES:RC4:@SECLEVEL=0" || r.Cert.KeyType != "RSA" {
			t.Errorf("server settings %v, key %s: the scenario's configuration is not in effect", r.Server.Settings, r.Cert.KeyType)
		}
	})

	t.Run("TLS 1.0 and 1.1 accepted", func(t *testing.T) {
		c.configure(t, map[string]string{"ssl_min_protocol_version": "TLSv1", "ssl_ciphers": "DEFAULT:@SECLEVEL=0"}, hbaTLSOnly...)
		r := c.audit(t, dsn, nil)
		wantFindings(t, r, "tls10-accepted:high", "tls11-accepted:high", "cipher-cbc-accepted:low", "ssl-min-protocol-low:low")
		if !r.Accepts["tls12"] || !r.Accepts["tls13"] {
			t.Errorf("accepts %v", r.Accepts)
		}
		opensslAgrees(t, r.Target.Addr(), "-tls1", r)
	})

	// Without TLS the audit sends no credentials: it learns how far an
	// unencrypted connection gets, and reads the server's view only over TLS.
	t.Run("ssl off, plaintext allowed", func(t *testing.T) {
		c.configure(t, map[string]string{"ssl": "off"}, hbaPlaintext...)
		r := c.audit(t, dsn, nil)
		wantFindings(t, r, "tls-not-offered:critical", "plaintext-accepted:high", "server-view-incomplete:info")
		if r.Offered || r.Cert != nil || r.Accepts["tls13"] || r.Plaintext.Authenticated || r.Plaintext.Auth != "scram-sha-256" {
			t.Errorf("offered %v cert %v accepts %v plaintext %+v", r.Offered, r.Cert, r.Accepts, r.Plaintext)
		}
		if r.Server.Connected || !strings.Contains(r.Server.Unreadable["connection"], "only over TLS") {
			t.Errorf("server view %+v, want not read without TLS", r.Server)
		}
	})

	t.Run("ssl off, trust over plaintext", func(t *testing.T) {
		c.configure(t, map[string]string{"ssl": "off"}, "host all all 127.0.0.1/32 trust")
		r := c.audit(t, c.dsn("postgres", false, ""), nil)
		wantFindings(t, r, "tls-not-offered:critical", "plaintext-accepted:critical", "server-view-incomplete:info")
		if !r.Plaintext.Authenticated || r.Plaintext.Auth != "trust" {
			t.Errorf("plaintext %+v, want a session without a password", r.Plaintext)
		}
	})

	t.Run("ssl on, hba allows plaintext", func(t *testing.T) {
		c.configure(t, nil, hbaPlaintext...)
		r := c.audit(t, dsn, nil)
		wantFindings(t, r, "plaintext-accepted:high", "hba-allows-plaintext:medium")
		if r.Plaintext.Authenticated || !strings.Contains(r.Plaintext.Detail, "asked for scram-sha-256 (no credentials sent)") {
			t.Errorf("plaintext %+v", r.Plaintext)
		}
		if got := r.Server.HBARules; len(got) != 1 || got[0].Type != "host" || got[0].Address != "127.0.0.1/32" {
			t.Errorf("non-TLS hba rules %v", got)
		}
		if s := r.Server.Session; s == nil || !s.SSL {
			t.Errorf("the server view's session %+v, want TLS", s)
		}
	})

	t.Run("ssl on, DSN with sslmode=disable", func(t *testing.T) {
		r := c.audit(t, c.dsn("postgres", true, "sslmode=disable"), nil)
		wantFindings(t, r, "plaintext-accepted:high", "dsn-session-unencrypted:medium", "server-view-incomplete:info")
		if r.Server.Connected || !strings.Contains(r.Server.Unreadable["connection"], "sslmode=disable") {
			t.Errorf("server view %+v, want not read with sslmode=disable", r.Server)
		}
	})

	t.Run("ssl on, DSN with sslmode=allow", func(t *testing.T) {
		r := c.audit(t, c.dsn("postgres", true, "sslmode=allow"), nil)
		wantFindings(t, r, "plaintext-accepted:high", "hba-allows-plaintext:medium", "dsn-session-unencrypted:medium")
		if s := r.Server.Session; s == nil || !s.SSL {
			t.Errorf("the server view's session %+v, want TLS", s)
		}
	})

	t.Run("hba allows plaintext, no password in the DSN", func(t *testing.T) {
		r := c.audit(t, c.dsn("postgres", false, ""), nil)
		wantFindings(t, r, "plaintext-accepted:high", "server-view-incomplete:info")
		if r.Plaintext.Authenticated || r.Server.Connected || !strings.Contains(r.Server.Unreadable["connection"], "no password") {
			t.Errorf("plaintext %+v server %+v", r.Plaintext, r.Server)
		}
	})

	t.Run("hostssl only, no password in the DSN", func(t *testing.T) {
		c.configure(t, nil, hbaTLSOnly...)
		r := c.audit(t, c.dsn("postgres", false, ""), nil)
		wantFindings(t, r, "server-view-incomplete:info")
		if r.Plaintext.Accepted || !strings.Contains(r.Plaintext.Detail, "no pg_hba.conf entry") {
			t.Errorf("plaintext %+v", r.Plaintext)
		}
	})

	t.Run("unprivileged role, md5 password encryption", func(t *testing.T) {
		if err := c.Exec(context.Background(), "postgres", "CREATE ROLE auditor LOGIN PASSWORD '"+testPassword+"'"); err != nil {
			t.Fatal(err)
		}
		c.configure(t, map[string]string{"password_encryption": "md5"}, hbaTLSOnly...)
		r := c.audit(t, c.dsn("auditor", true, ""), nil)
		wantFindings(t, r, "password-encryption-md5:medium", "server-view-incomplete:info")
		sv := r.Server
		if sv.HBARead || !strings.Contains(sv.Unreadable["pg_hba_file_rules"], "permission denied") || sv.Session == nil || !sv.Session.SSL {
			t.Errorf("server view %+v", sv)
		}
	})
}
