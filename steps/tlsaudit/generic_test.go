package tlsaudit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

func findingIDs(r *Report) []string {
	ids := []string{}
	for _, f := range r.Findings {
		ids = append(ids, f.ID+":"+f.Severity.String())
	}
	return ids
}

func wantFindings(t *testing.T, r *Report, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := findingIDs(r); !reflect.DeepEqual(got, want) {
		for _, f := range r.Findings {
			t.Logf("finding %s (%s): %s", f.ID, f.Severity, f.Evidence)
		}
		t.Fatalf("findings = %v, want %v", got, want)
	}
}

func TestAuditGoServerModern(t *testing.T) {
	ca := tlstest.NewCA(t, "sluice test CA")
	leaf := ca.Issue(t, tlstest.Options{})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}, CipherSuites: aeadSuites})
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)

	r, err := Audit(context.Background(), Config{Target: target, CAFile: caFile, ALPN: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	wantFindings(t, r)
	if r.Version != "TLSv1.3" || r.ALPN != "h2" || r.Group == "" || !strings.HasPrefix(r.Cipher, "TLS_") {
		t.Errorf("negotiated %q %q group %q alpn %q, want TLSv1.3, a TLS_ suite, a group and h2", r.Version, r.Cipher, r.Group, r.ALPN)
	}
	want := map[string]bool{"tls10": false, "tls11": false, "tls12": true, "tls13": true}
	if !reflect.DeepEqual(r.Accepts, want) {
		t.Errorf("accepts = %v, want %v", r.Accepts, want)
	}
	if !r.Chain.Verified || r.Chain.Roots != "ca file" || !r.Hostname.Matched || r.Hostname.Name != "127.0.0.1" {
		t.Errorf("chain %+v hostname %+v", r.Chain, r.Hostname)
	}
	c := r.Cert
	if c.KeyType != "ECDSA" || c.KeyBits != 256 || c.DaysLeft < 364 || c.ChainDaysLeft != c.DaysLeft || c.SelfSigned ||
		c.Issuer != ca.Cert.Subject.String() || !c.NotAfter.Equal(leaf.Cert.NotAfter.UTC()) {
		t.Errorf("cert facts %+v", c)
	}
	if r.Plaintext.Checked || r.Server != nil {
		t.Errorf("tls:// target probed PostgreSQL things: plaintext %+v server %+v", r.Plaintext, r.Server)
	}
	out := r.Outputs()
	if out["cert"].(map[string]any)["days_left"].(int64) != int64(c.DaysLeft) || out["accepts"].(map[string]any)["tls11"] != false ||
		out["max_severity"] != "none" {
		t.Errorf("outputs %v", out)
	}
}

func TestAuditGoServerLegacy(t *testing.T) {
	// TLS 1.0-1.2 only, a self-signed 1024-bit RSA certificate for
	// another name that expires in 20 days.
	leaf := tlstest.SelfSigned(t, tlstest.Options{DNSNames: []string{"db.example.com"}, Key: tlstest.RSAKey(t, 1024),
		NotAfter: time.Now().Add(20*24*time.Hour + time.Hour)})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12})
	r, err := Audit(context.Background(), Config{Target: target, CAFile: writeCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	wantFindings(t, r, "tls10-accepted:high", "tls11-accepted:high", "chain-unverified:high", "hostname-mismatch:high",
		"weak-key:high", "cert-expiring:medium", "tls13-not-accepted:low", "cipher-cbc-accepted:low")
	if r.Version != "TLSv1.2" || !r.Cert.SelfSigned || r.Cert.DaysLeft != 20 || r.Cert.KeyBits != 1024 {
		t.Errorf("version %q cert %+v", r.Version, r.Cert)
	}
	if !strings.Contains(r.Chain.Error, "self-signed") || r.Hostname.Matched || !strings.Contains(r.Hostname.Error, "127.0.0.1") {
		t.Errorf("chain error %q, hostname error %q", r.Chain.Error, r.Hostname.Error)
	}
}

func TestAuditGoServerExpired(t *testing.T) {
	ca := tlstest.NewCA(t, "sluice test CA")
	leaf := ca.Issue(t, tlstest.Options{NotBefore: time.Now().AddDate(0, 0, -30), NotAfter: time.Now().Add(-36 * time.Hour)})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	r, err := Audit(context.Background(), Config{Target: target, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	// The chain is trusted apart from the expiry, which has its own finding.
	wantFindings(t, r, "cert-expired:critical", "cipher-cbc-accepted:low")
	if r.Chain.Verified || !r.Chain.TrustedIfValid || r.Cert.DaysLeft != -2 {
		t.Errorf("chain %+v, days left %d", r.Chain, r.Cert.DaysLeft)
	}
}

func TestAuditNothingListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Audit(context.Background(), Config{Target: "tls://" + addr, Timeout: 2 * time.Second})
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || !strings.Contains(err.Error(), "check the host and port") {
		t.Fatalf("err = %v, want a dial error with a hint", err)
	}
}

func writeCA(t *testing.T) string {
	t.Helper()
	return tlstest.WriteFile(t, t.TempDir(), "ca.pem", tlstest.NewCA(t, "unrelated CA").PEM)
}

func TestWeakestSignature(t *testing.T) {
	for _, tc := range []struct {
		algs []x509.SignatureAlgorithm
		want x509.SignatureAlgorithm
	}{
		{[]x509.SignatureAlgorithm{x509.ECDSAWithSHA256}, x509.UnknownSignatureAlgorithm},
		{[]x509.SignatureAlgorithm{x509.SHA256WithRSA, x509.SHA1WithRSA}, x509.SHA1WithRSA},
		{[]x509.SignatureAlgorithm{x509.SHA1WithRSA, x509.MD5WithRSA}, x509.MD5WithRSA},
	} {
		if got := weakestSignature(tc.algs); got != tc.want {
			t.Errorf("weakestSignature(%v) = %v, want %v", tc.algs, got, tc.want)
		}
	}
}
