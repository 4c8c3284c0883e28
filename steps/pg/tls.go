package pg

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// SelfSignedCert returns a new self-signed server certificate for 127.0.0.1
// and localhost (ECDSA P-256, valid for a week) and its private key, both
// PEM-encoded. It is for throwaway clusters and tests: clients must not
// verify it (sslmode=require), or must trust the certificate itself.
func SelfSignedCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("generating TLS certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"sluice throwaway cluster"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating TLS certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// WithTLS returns opts with TLS turned on: certPEM and keyPEM become the
// server's certificate and key (files in the data directory) and ssl = on.
// Plaintext connections stay allowed; add HBA lines to refuse them.
func WithTLS(opts Options, certPEM, keyPEM []byte) Options {
	files := map[string][]byte{}
	for k, v := range opts.Files {
		files[k] = v
	}
	files["server.crt"], files["server.key"] = certPEM, keyPEM
	opts.Files = files
	opts.Conf = append(append([]string{}, opts.Conf...),
		"ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'")
	return opts
}
