package tlsaudit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "tls://db.example.com:443", want: "tls://db.example.com:443"},
		{in: "tls://[::1]:8443", want: "tls://[::1]:8443"},
		{in: "postgres://app:s3cret@10.0.0.5:6432/app", want: "postgres://10.0.0.5:6432"},
		{in: "host=db.internal port=5433 user=app password=s3cret dbname=app", want: "postgres://db.internal:5433"},
		{in: "tls://db.example.com", err: "give tls://host:port"},
		{in: "tls://db.example.com:99999", err: "port must be"},
		{in: "host=/var/run/postgresql", err: "not a unix socket"},
		{in: "postgres://app:s3cret@db:notaport/app", err: "not a PostgreSQL connection string"},
	} {
		got, err := ParseTarget(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ParseTarget(%q) error = %v, want %q without the password", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
		case got.String() != tc.want:
			t.Errorf("ParseTarget(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for _, name := range []string{"info", "low", "medium", "high", "critical"} {
		s, err := ParseSeverity(name)
		if err != nil || s.String() != name {
			t.Errorf("ParseSeverity(%q) = %v, %v", name, s, err)
		}
	}
	if s, err := ParseSeverity("none"); err != nil || s != 0 {
		t.Errorf("none = %v, %v", s, err)
	}
	if _, err := ParseSeverity("High"); err == nil {
		t.Error("ParseSeverity accepted High")
	}
}

func TestStartupAndErrorMessages(t *testing.T) {
	msg := startupMessage("app", "appdb")
	if int(msg[3]) != len(msg) || !bytes.Equal(msg[4:8], []byte{0, 3, 0, 0}) ||
		!bytes.Contains(msg, []byte("user\x00app\x00database\x00appdb\x00")) || msg[len(msg)-1] != 0 {
		t.Errorf("startup message %q", msg)
	}
	code, text := errorFields([]byte("SFATAL\x00C28000\x00Mno pg_hba.conf entry, no encryption\x00\x00"))
	if code != "28000" || text != "no pg_hba.conf entry, no encryption" {
		t.Errorf("errorFields = %q, %q", code, text)
	}
}

func TestAuthName(t *testing.T) {
	for _, tc := range []struct {
		code uint32
		rest string
		want string
	}{
		{0, "", "trust"}, {3, "", "password"}, {5, "salt", "md5"},
		{10, "SCRAM-SHA-256\x00\x00", "scram-sha-256"},
		{10, "SCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00", "scram-sha-256-plus,scram-sha-256"},
		{42, "", "unknown (42)"},
	} {
		if got := authName(tc.code, []byte(tc.rest)); got != tc.want {
			t.Errorf("authName(%d, %q) = %q, want %q", tc.code, tc.rest, got, tc.want)
		}
	}
}

func TestShadowedRules(t *testing.T) {
	all := []*net.IPNet{nil}
	v4 := []*net.IPNet{ruleNet("0.0.0.0", "0.0.0.0")}
	for _, tc := range []struct {
		rule    *net.IPNet
		rejects []*net.IPNet
		want    bool
	}{
		{ruleNet("127.0.0.1", "255.255.255.255"), all, true},
		{ruleNet("127.0.0.1", "255.255.255.255"), v4, true},
		{ruleNet("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), v4, false},
		{ruleNet("10.0.0.0", "255.0.0.0"), []*net.IPNet{ruleNet("10.1.0.0", "255.255.0.0")}, false},
		{nil, v4, false}, // "all" or a host name: only an "all" reject covers it
	} {
		if got := shadowed(tc.rule, tc.rejects); got != tc.want {
			t.Errorf("shadowed(%v, %v) = %v, want %v", tc.rule, tc.rejects, got, tc.want)
		}
	}
}

func TestAuditClientCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "sluice test CA")
	server := ca.Issue(t, tlstest.Options{})
	client := ca.Issue(t, tlstest.Options{CommonName: "auditor", Client: true})
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	// TLS 1.2, so that a missing client certificate fails the handshake
	// itself rather than the first read after it.
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MaxVersion: tls.VersionTLS12})
	dir := t.TempDir()
	cfg := Config{Target: target, CAFile: tlstest.WriteFile(t, dir, "ca.pem", ca.PEM)}

	r, err := Audit(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantFindings(t, r, "tls-handshake-failed:high")

	cfg.ClientCert = tlstest.WriteFile(t, dir, "client.crt", client.CertPEM)
	cfg.ClientKey = tlstest.WriteFile(t, dir, "client.key", client.KeyPEM)
	if r, err = Audit(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	wantFindings(t, r, "tls13-not-accepted:low", "cipher-cbc-accepted:low")
	if r.Version != "TLSv1.2" || !r.Chain.Verified {
		t.Errorf("version %q chain %+v", r.Version, r.Chain)
	}
}

// TestRefusedByHBA: pg_hba's refusal of an unencrypted connection is
// recognised in other languages and from servers before PostgreSQL 12;
// before, a German server that refuses plaintext was reported as
// accepting it (a high finding).
func TestRefusedByHBA(t *testing.T) {
	for _, tt := range []struct {
		code, msg string
		refused   bool
	}{
		{"28000", `no pg_hba.conf entry for host "10.0.0.5", user "app", database "app", no encryption`, true},
		{"28000", `kein pg_hba.conf-Eintrag für Host »10.0.0.5«, Benutzer »app«, Datenbank »app«, keine Verschlüsselung`, true},
		{"28000", `no pg_hba.conf entry for host "10.0.0.5", user "app", database "app", SSL off`, true},
		{"28000", `pg_hba.conf rejects connection for host "10.0.0.5", user "app", database "app", no encryption`, true},
		{"28000", `role "app" does not exist`, false},
		{"3D000", `database "app" does not exist`, false},
	} {
		if got := refusedByHBA(tt.code, tt.msg); got != tt.refused {
			t.Errorf("refusedByHBA(%s, %q) = %v, want %v", tt.code, tt.msg, got, tt.refused)
		}
	}
}
