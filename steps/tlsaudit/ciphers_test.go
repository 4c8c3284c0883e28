package tlsaudit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

// aeadSuites are the TLS 1.2 suites of Mozilla's intermediate
// configuration that crypto/tls implements: no finding.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TestAuditGoServerCiphers runs a Go TLS server (TLS 1.2 and 1.3, an RSA
// certificate) that accepts one AEAD suite plus the suites of each case,
// and asserts which groups the audit reports and with which suite.
func TestAuditGoServerCiphers(t *testing.T) {
	ca := tlstest.NewCA(t, "sluice test CA")
	leaf := ca.Issue(t, tlstest.Options{Key: tlstest.RSAKey(t, 2048)})
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	for _, tc := range []struct {
		name   string
		suites []uint16
		want   []string          // findings
		chosen map[string]string // group -> suite
	}{
		{"AEAD only", nil, nil, map[string]string{}},
		{"RC4", []uint16{tls.TLS_RSA_WITH_RC4_128_SHA}, []string{"cipher-rc4-accepted:high"},
			map[string]string{"rc4": "TLS_RSA_WITH_RC4_128_SHA"}},
		{"3DES", []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}, []string{"cipher-3des-accepted:high"},
			map[string]string{"3des": "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"}},
		{"RSA key exchange, GCM", []uint16{tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, []string{"cipher-rsa-kex-accepted:medium"},
			map[string]string{"rsa_kex": "TLS_RSA_WITH_AES_256_GCM_SHA384"}},
		{"ECDHE with CBC", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, []string{"cipher-cbc-accepted:low"},
			map[string]string{"cbc": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"}},
		{"RSA key exchange with CBC", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA},
			[]string{"cipher-rsa-kex-accepted:medium", "cipher-cbc-accepted:low"},
			map[string]string{"rsa_kex": "TLS_RSA_WITH_AES_128_CBC_SHA", "cbc": "TLS_RSA_WITH_AES_128_CBC_SHA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()},
				MinVersion: tls.VersionTLS12, CipherSuites: append([]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, tc.suites...)})
			r, err := Audit(context.Background(), Config{Target: target, CAFile: caFile})
			if err != nil {
				t.Fatal(err)
			}
			wantFindings(t, r, tc.want...)
			if !r.Ciphers.Checked || !reflect.DeepEqual(r.Ciphers.Suite, tc.chosen) {
				t.Errorf("ciphers %+v, want chosen %v", r.Ciphers, tc.chosen)
			}
			out := r.Outputs()["ciphers"].(map[string]any)
			for _, g := range CipherGroups {
				_, want := tc.chosen[g.Key]
				if out["accepts_"+g.Key] != want {
					t.Errorf("ciphers.accepts_%s = %v, want %v (%v)", g.Key, out["accepts_"+g.Key], want, out)
				}
			}
		})
	}

	t.Run("TLS 1.3 only: nothing to probe", func(t *testing.T) {
		target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MinVersion: tls.VersionTLS13})
		r, err := Audit(context.Background(), Config{Target: target, CAFile: caFile})
		if err != nil {
			t.Fatal(err)
		}
		wantFindings(t, r)
		if out := r.Outputs()["ciphers"].(map[string]any); r.Ciphers.Checked || out["checked"] != false || out["accepts_cbc"] != false {
			t.Errorf("ciphers %v", out)
		}
	})
}

// TestAuditGoServerSHA1Certificate serves a certificate signed with
// SHA-1 over a real handshake: the finding comes from the certificate the
// server sent.
func TestAuditGoServerSHA1Certificate(t *testing.T) {
	leaf := tlstest.SelfSigned(t, tlstest.Options{Key: tlstest.RSAKey(t, 2048), SignatureAlgorithm: x509.SHA1WithRSA})
	target := tlstest.Serve(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, CipherSuites: aeadSuites})
	// The certificate is its own root: the chain verifies (a root's own
	// signature is not checked), so the signature is the only finding.
	caFile := tlstest.WriteFile(t, t.TempDir(), "ca.pem", leaf.CertPEM)
	r, err := Audit(context.Background(), Config{Target: target, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	wantFindings(t, r, "weak-signature:high")
	if r.Cert.SignatureAlgorithm != "SHA1-RSA" || r.Cert.SHA256 == "" || !r.Chain.Verified {
		t.Errorf("cert %+v chain %+v", r.Cert, r.Chain)
	}
	if got := r.Outputs()["cert"].(map[string]any)["signature_algorithm"]; got != "SHA1-RSA" {
		t.Errorf("cert.signature_algorithm output = %v", got)
	}
}
