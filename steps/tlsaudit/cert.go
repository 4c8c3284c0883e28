package tlsaudit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math"
	"time"
)

// CertFacts describes the server's leaf certificate and the chain it sent.
type CertFacts struct {
	Subject            string
	Issuer             string
	DNSNames           []string
	IPAddresses        []string
	KeyType            string // RSA, ECDSA, Ed25519
	KeyBits            int
	SignatureAlgorithm string // e.g. SHA256-RSA, ECDSA-SHA256
	NotBefore          time.Time
	NotAfter           time.Time
	DaysLeft           int // whole days until the leaf expires; negative once expired
	ChainDaysLeft      int // the minimum of DaysLeft over every certificate sent
	ChainExpiresFirst  string
	ChainLength        int // certificates the server sent
	SelfSigned         bool
	SHA256             string // fingerprint of the leaf, hex
	NotYetValid        bool   // the leaf's not-before is in the future

	sigAlgs []x509.SignatureAlgorithm // of the leaf and every sent certificate that is not self-signed
}

// ChainFacts is the result of verifying the chain.
type ChainFacts struct {
	Verified bool
	Error    string // why verification failed
	Roots    string // what it was verified against: "ca file", "dsn sslrootcert" or "system"
	// TrustedIfValid is true when verification failed only because a
	// certificate is outside its validity period (expiry has its own
	// finding).
	TrustedIfValid bool
}

// HostnameFacts is the result of matching the certificate to the name.
type HostnameFacts struct {
	Name    string
	Matched bool
	Error   string
}

// daysLeft returns whole days from now to t, rounded down.
func daysLeft(now, t time.Time) int {
	return int(math.Floor(t.Sub(now).Hours() / 24))
}

// certFacts describes chain[0] and the chain, as of now.
func certFacts(chain []*x509.Certificate, now time.Time) *CertFacts {
	leaf := chain[0]
	sum := sha256.Sum256(leaf.Raw)
	f := &CertFacts{
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), DNSNames: leaf.DNSNames,
		SignatureAlgorithm: leaf.SignatureAlgorithm.String(),
		NotBefore:          leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(),
		DaysLeft: daysLeft(now, leaf.NotAfter), ChainLength: len(chain),
		SelfSigned: isSelfSigned(leaf), SHA256: hex.EncodeToString(sum[:]),
	}
	for _, ip := range leaf.IPAddresses {
		f.IPAddresses = append(f.IPAddresses, ip.String())
	}
	f.KeyType, f.KeyBits = keyInfo(leaf)
	f.NotYetValid = now.Before(leaf.NotBefore)
	f.sigAlgs = []x509.SignatureAlgorithm{leaf.SignatureAlgorithm}
	for _, c := range chain[1:] {
		if !isSelfSigned(c) {
			f.sigAlgs = append(f.sigAlgs, c.SignatureAlgorithm)
		}
	}
	f.ChainDaysLeft, f.ChainExpiresFirst = f.DaysLeft, f.Subject
	for _, c := range chain[1:] {
		if d := daysLeft(now, c.NotAfter); d < f.ChainDaysLeft {
			f.ChainDaysLeft, f.ChainExpiresFirst = d, c.Subject.String()
		}
	}
	return f
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// keyInfo returns the type and size of c's public key.
func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// verifyChain verifies chain against roots at now. When it fails only
// because a certificate is expired or not yet valid, it verifies again at a
// time inside every certificate's validity to tell whether the chain is
// otherwise trusted.
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) ChainFacts {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	_, err := chain[0].Verify(opts)
	if err == nil {
		return ChainFacts{Verified: true}
	}
	f := ChainFacts{Error: err.Error()}
	if isSelfSigned(chain[0]) {
		f.Error += " (the certificate is self-signed)"
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		lo, hi := chain[0].NotBefore, chain[0].NotAfter
		for _, c := range chain[1:] {
			if c.NotBefore.After(lo) {
				lo = c.NotBefore
			}
			if c.NotAfter.Before(hi) {
				hi = c.NotAfter
			}
		}
		// Verify again just inside the validity window nearest to now.
		if lo.Before(hi) {
			opts.CurrentTime = hi.Add(-time.Minute)
			if now.Before(lo) {
				opts.CurrentTime = lo.Add(time.Minute)
			}
			_, err2 := chain[0].Verify(opts)
			f.TrustedIfValid = err2 == nil
		}
	}
	return f
}

// matchHostname checks chain[0] against name.
func matchHostname(leaf *x509.Certificate, name string) HostnameFacts {
	h := HostnameFacts{Name: name, Matched: true}
	if err := leaf.VerifyHostname(name); err != nil {
		h.Matched, h.Error = false, err.Error()
	}
	return h
}
