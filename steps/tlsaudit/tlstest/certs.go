// Package tlstest generates certificates for tests: a CA, leaves it issues
// and self-signed leaves, with chosen names, validity, keys and signature
// algorithms. Everything is made with crypto/x509 at test time; nothing is
// read from disk.
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority for tests.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte // the CA certificate, PEM-encoded
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the leaf certificate, PEM-encoded
	KeyPEM  []byte // the private key, PKCS #8 PEM
}

// Options shape a leaf certificate. The zero value gives a server
// certificate for 127.0.0.1 and localhost valid from an hour ago for a
// year, with a fresh ECDSA P-256 key.
type Options struct {
	CommonName string
	DNSNames   []string // default: localhost (when IPs is also empty)
	IPs        []net.IP // default: 127.0.0.1 (when DNSNames is also empty)
	NotBefore  time.Time
	NotAfter   time.Time
	Key        crypto.Signer // default: a new ECDSA P-256 key
	Client     bool          // client authentication instead of server
	// SignatureAlgorithm, when set, is used instead of the default for
	// the issuer's key.
	SignatureAlgorithm x509.SignatureAlgorithm
}

// NewCA returns a fresh CA with an ECDSA P-256 key, valid from a year ago
// for ten years (so that leaves back-dated for expiry tests still chain).
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := ECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"sluice tests"}},
		NotBefore:             time.Now().AddDate(-1, 0, 0),
		NotAfter:              time.Now().AddDate(9, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("tlstest: creating CA: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}
}

// Issue returns a leaf signed by ca.
func (ca *CA) Issue(t testing.TB, o Options) *Leaf {
	t.Helper()
	return issue(t, o, ca.Cert, ca.Key)
}

// SelfSigned returns a leaf that signs itself.
func SelfSigned(t testing.TB, o Options) *Leaf {
	t.Helper()
	return issue(t, o, nil, nil)
}

func issue(t testing.TB, o Options, parent *x509.Certificate, parentKey crypto.Signer) *Leaf {
	t.Helper()
	key := o.Key
	if key == nil {
		key = ECKey(t)
	}
	if len(o.DNSNames) == 0 && len(o.IPs) == 0 {
		o.DNSNames, o.IPs = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if o.CommonName == "" {
		o.CommonName = "sluice test server"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().AddDate(1, 0, 0)
	}
	usage := x509.ExtKeyUsageServerAuth
	if o.Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial(t),
		Subject:            pkix.Name{CommonName: o.CommonName},
		DNSNames:           o.DNSNames,
		IPAddresses:        o.IPs,
		NotBefore:          o.NotBefore,
		NotAfter:           o.NotAfter,
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{usage},
		SignatureAlgorithm: o.SignatureAlgorithm,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("tlstest: creating certificate %q: %v", o.CommonName, err)
	}
	cert, _ := x509.ParseCertificate(der)
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("tlstest: encoding key: %v", err)
	}
	return &Leaf{Cert: cert, Key: key, CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", p8)}
}

// TLSCertificate returns the leaf as a tls.Certificate for a server or
// client configuration.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

// ECKey returns a new ECDSA P-256 key.
func ECKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("tlstest: generating key: %v", err)
	}
	return k
}

// RSAKey returns a new RSA key of bits bits.
func RSAKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("tlstest: generating %d-bit RSA key: %v", bits, err)
	}
	return k
}

// WriteFile writes data to name in dir with mode 0600 and returns its path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	return p
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("tlstest: serial: %v", err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
