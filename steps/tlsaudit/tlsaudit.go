// Package tlsaudit probes the encryption in transit of a PostgreSQL server
// (SSLRequest, then TLS) or of any TLS endpoint, and turns what it sees into
// findings with severities. It speaks the protocol by hand over net.Conn
// with crypto/tls, so that it can pin versions and look at certificates a
// normal client would refuse.
package tlsaudit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Config says what to audit and how.
type Config struct {
	Target     string // PostgreSQL DSN or tls://host:port
	CAFile     string // PEM bundle; empty: the DSN's sslrootcert, else the system roots
	ServerName string // empty: the target's host
	ClientCert string // PEM file of a client certificate; empty: the DSN's sslcert
	ClientKey  string // its key; empty: the DSN's sslkey
	ALPN       []string
	Direct     bool          // also probe PostgreSQL 17's direct TLS
	Timeout    time.Duration // per connection; default 10s
	// ExpiryHighDays and ExpiryMediumDays are the thresholds of the
	// cert-expiring finding; defaults 14 and 30.
	ExpiryHighDays, ExpiryMediumDays int
	Now                              func() time.Time // default time.Now
}

// Report is everything an audit saw, and its findings.
type Report struct {
	Target *Target
	// Offered: the server offered TLS (always true for tls:// targets that
	// completed a handshake).
	Offered        bool
	HandshakeError string            // why the main handshake failed, if it did
	Version        string            // negotiated: TLSv1.3
	Cipher         string            // IANA name
	Group          string            // key exchange group, e.g. X25519MLKEM768; empty when not known
	ALPN           string            // negotiated application protocol
	Accepts        map[string]bool   // tls10, tls11, tls12, tls13
	Rejects        map[string]string // version key -> why the pinned handshake failed
	Ciphers        CipherFacts       // weak TLS 1.2 cipher groups accepted
	Cert           *CertFacts        // nil without a handshake
	Chain          ChainFacts
	Hostname       HostnameFacts
	Plaintext      PlaintextFacts
	Server         *ServerView  // nil for tls:// targets
	Direct         *DirectFacts // nil unless asked for
	Findings       []Finding
}

// DirectFacts is the result of a direct TLS handshake (no SSLRequest, ALPN
// "postgresql"), which PostgreSQL 17 and later accept.
type DirectFacts struct {
	Supported bool
	ALPN      string
	Error     string
}

// Audit probes the target and returns the report with its findings. It
// returns an error only when the audit cannot run at all: a bad target or
// option, or nothing listening.
func Audit(ctx context.Context, c Config) (*Report, error) {
	t, err := ParseTarget(c.Target)
	if err != nil {
		return nil, err
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ExpiryHighDays == 0 {
		c.ExpiryHighDays = 14
	}
	if c.ExpiryMediumDays == 0 {
		c.ExpiryMediumDays = 30
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	base, rootsFrom, err := c.tlsConfig(t)
	if err != nil {
		return nil, err
	}
	d := dialer{target: t, timeout: c.Timeout}
	r := &Report{Target: t, Accepts: map[string]bool{}, Rejects: map[string]string{}}

	st, err := d.handshake(ctx, base, false)
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrTLSNotOffered):
		r.HandshakeError = err.Error()
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return nil, fmt.Errorf("%s: %w: check the host and port, and that the server is running", t, err)
	case err != nil:
		r.Offered, r.HandshakeError = true, err.Error()
		// A server that offers only what Go's defaults leave out (static
		// RSA key exchange, 3DES) still has a certificate to check.
		wide := base.Clone()
		wide.CipherSuites = allCipherSuites()
		if st, err := d.handshake(ctx, wide, false); err == nil {
			r.checkCertificate(st, base, rootsFrom, now())
		}
	default:
		r.Offered = true
		r.Version, r.Cipher, r.ALPN = VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol
		if st.CurveID != 0 {
			r.Group = st.CurveID.String()
		}
		r.checkCertificate(st, base, rootsFrom, now())
	}
	if r.Offered {
		r.Accepts, r.Rejects = d.probeVersions(ctx, base)
		if r.Accepts["tls12"] {
			r.Ciphers = d.probeCiphers(ctx, base)
		}
	} else {
		for _, v := range Versions {
			r.Accepts[v.Key] = false
		}
	}
	if t.Kind == KindPostgres {
		r.Plaintext = d.probePlaintext(ctx)
		sv := readServerView(ctx, t, c.Timeout, r.Offered)
		r.Server = &sv
		if c.Direct {
			r.Direct = d.probeDirect(ctx, base)
		}
	} else {
		r.Plaintext.Detail = "not applicable to tls:// targets"
	}
	r.Findings = evaluate(r, c)
	return r, ctx.Err()
}

// checkCertificate records the facts of the certificate st presented: its
// validity, chain (against base's roots) and host name.
func (r *Report) checkCertificate(st tls.ConnectionState, base *tls.Config, rootsFrom string, now time.Time) {
	r.Cert = certFacts(st.PeerCertificates, now)
	r.Chain = verifyChain(st.PeerCertificates, base.RootCAs, now)
	r.Chain.Roots = rootsFrom
	r.Hostname = matchHostname(st.PeerCertificates[0], base.ServerName)
}

// probeDirect tries a TLS handshake without SSLRequest, offering ALPN
// "postgresql" as PostgreSQL 17 requires.
func (d dialer) probeDirect(ctx context.Context, base *tls.Config) *DirectFacts {
	cfg := base.Clone()
	cfg.NextProtos = []string{"postgresql"}
	st, err := d.handshake(ctx, cfg, true)
	switch {
	case err != nil:
		return &DirectFacts{Error: "direct TLS handshake failed (PostgreSQL 17 or later is needed): " + err.Error()}
	case st.NegotiatedProtocol != "postgresql":
		return &DirectFacts{ALPN: st.NegotiatedProtocol, Error: "the server completed a direct handshake but did not select ALPN postgresql"}
	}
	return &DirectFacts{Supported: true, ALPN: st.NegotiatedProtocol}
}

// tlsConfig builds the base client configuration. Verification is done by
// hand after the handshake so that the audit sees certificates a client
// would refuse; rootsFrom says where the roots came from.
func (c Config) tlsConfig(t *Target) (*tls.Config, string, error) {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, ServerName: c.ServerName, NextProtos: c.ALPN}
	if cfg.ServerName == "" {
		cfg.ServerName = t.Host
	}
	if cfg.NextProtos == nil && t.Kind == KindPostgres {
		cfg.NextProtos = []string{"postgresql"} // what libpq 17 offers
	}
	rootsFrom := "system"
	switch {
	case c.CAFile != "":
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("ca: %s holds no PEM certificate", c.CAFile)
		}
		rootsFrom = "ca file"
	case t.dsnRoots != nil:
		cfg.RootCAs, rootsFrom = t.dsnRoots, "dsn sslrootcert"
	default:
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, "", fmt.Errorf("loading the system's CA certificates (give ca: instead): %w", err)
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.ClientCert != "" || c.ClientKey != "":
		if c.ClientCert == "" || c.ClientKey == "" {
			return nil, "", errors.New("client_cert and client_key: give both or neither")
		}
		pair, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return nil, "", fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case len(t.dsnCerts) > 0:
		cfg.Certificates = t.dsnCerts
	}
	return cfg, rootsFrom, nil
}
