package tlsaudit

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

// TestAuditChecksCertificateBehindStaticRSA: an old server that offers only
// static RSA key exchange, which Go's default client leaves out, with a
// certificate that expired an hour ago. The default handshake fails (a
// finding of its own), but the certificate is still checked and its expiry
// reported; before, only the failed handshake was, and fail_on: critical
// passed.
func TestAuditChecksCertificateBehindStaticRSA(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	leaf := ca.Issue(t, tlstest.Options{Key: tlstest.RSAKey(t, 2048), NotBefore: time.Now().AddDate(0, 0, -30), NotAfter: time.Now().Add(-time.Hour)})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}})
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	r, err := Audit(context.Background(), Config{Target: target, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range r.Findings {
		found[f.ID] = true
	}
	if r.HandshakeError == "" || !found["tls-handshake-failed"] || !found["cert-expired"] || r.Cert == nil {
		t.Errorf("handshake error %q, certificate checked %v, findings %v; want the failed handshake and cert-expired", r.HandshakeError, r.Cert != nil, found)
	}
}
