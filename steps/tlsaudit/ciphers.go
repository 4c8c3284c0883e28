package tlsaudit

import (
	"context"
	"crypto/tls"
	"strings"
	"sync"
)

// CipherGroup is a set of TLS 1.2 cipher suites that share one weakness.
// The audit makes one handshake pinned to TLS 1.2 per group, offering only
// the group's suites: the server accepts the group when that handshake
// completes.
//
// The severities follow Mozilla's Server Side TLS guidelines (version 5,
// https://wiki.mozilla.org/Security/Server_Side_TLS): the recommended
// "intermediate" configuration offers only ECDHE/DHE key exchange with AEAD
// ciphers (AES-GCM, ChaCha20-Poly1305); CBC-mode and RSA key exchange
// suites appear only in the "old" configuration for very old clients, and
// 3DES only there for Internet Explorer 8 on Windows XP; RC4 is in none.
//   - rc4, high: RC4 is prohibited in TLS (RFC 7465) for its keystream
//     biases.
//   - 3des, high: 64-bit blocks, practically attackable with birthday
//     collisions on long connections (SWEET32, CVE-2016-2183) — and a
//     database connection is long.
//   - rsa_kex, medium: static RSA key exchange has no forward secrecy: a
//     leaked server key decrypts every recorded session.
//   - cbc, low: AES-CBC with HMAC (MAC-then-encrypt) has a history of
//     padding-oracle attacks (Lucky13) and relies on constant-time
//     implementations; not broken in current libraries, but not AEAD.
type CipherGroup struct {
	Key      string // output key suffix: accepts_<Key>
	Name     string // human name
	Severity Severity
	Suites   []uint16
	Fix      string
}

// CipherGroups are the groups probed, most severe first. crypto/tls
// implements every suite named here as a client when it is configured
// explicitly (3DES, RSA key exchange and RC4 are only left out of its
// defaults). Debian's OpenSSL 3 builds no 3DES or RC4 suite at all.
var CipherGroups = []CipherGroup{
	{Key: "rc4", Name: "RC4", Severity: High, Suites: []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_RC4_128_SHA,
	}, Fix: "remove RC4 from the accepted suites (ssl_ciphers: add !RC4)"},
	{Key: "3des", Name: "3DES", Severity: High, Suites: []uint16{
		tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	}, Fix: "remove 3DES from the accepted suites (ssl_ciphers: replace +3DES with !3DES)"},
	{Key: "rsa_kex", Name: "RSA key exchange (no forward secrecy)", Severity: Medium, Suites: []uint16{
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	}, Fix: "accept only ECDHE (or DHE) key exchange (ssl_ciphers: add !kRSA)"},
	{Key: "cbc", Name: "AES-CBC", Severity: Low, Suites: []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	}, Fix: "accept only AEAD suites on TLS 1.2, e.g. ssl_ciphers = 'ECDHE+AESGCM:ECDHE+CHACHA20' (Mozilla intermediate)"},
}

// CipherFacts says which weak TLS 1.2 cipher groups the server accepts.
type CipherFacts struct {
	// Checked is false when the server accepts no TLS 1.2 handshake, so
	// that no group could be probed.
	Checked bool
	Accepts map[string]bool   // group key -> accepted
	Suite   map[string]string // group key -> the suite the server chose, when accepted
	Rejects map[string]string // group key -> why the handshake failed
}

// probeCiphers makes one handshake pinned to TLS 1.2 per cipher group,
// concurrently.
func (d dialer) probeCiphers(ctx context.Context, base *tls.Config) CipherFacts {
	f := CipherFacts{Checked: true, Accepts: map[string]bool{}, Suite: map[string]string{}, Rejects: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range CipherGroups {
		cfg := base.Clone()
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		cfg.CipherSuites = g.Suites
		wg.Go(func() {
			st, err := d.handshake(ctx, cfg, false)
			mu.Lock()
			defer mu.Unlock()
			f.Accepts[g.Key] = err == nil
			if err != nil {
				f.Rejects[g.Key] = err.Error()
				return
			}
			f.Suite[g.Key] = tls.CipherSuiteName(st.CipherSuite)
		})
	}
	wg.Wait()
	return f
}

// cipherFindings reports each accepted weak group.
func cipherFindings(c CipherFacts) []Finding {
	var fs []Finding
	for _, g := range CipherGroups {
		if c.Accepts[g.Key] {
			fs = append(fs, Finding{ID: "cipher-" + strings.ReplaceAll(g.Key, "_", "-") + "-accepted", Severity: g.Severity,
				Title:    g.Name + " cipher suites are accepted on TLS 1.2",
				Evidence: "a TLS 1.2 handshake offering only " + g.Name + " suites succeeded with " + c.Suite[g.Key],
				Fix:      g.Fix})
		}
	}
	return fs
}

// outputs is the ciphers output: checked, accepts_<group> and, per
// accepted group, the suite the server chose.
func (c CipherFacts) outputs() map[string]any {
	out := map[string]any{"checked": c.Checked}
	suites := map[string]any{}
	for _, g := range CipherGroups {
		out["accepts_"+g.Key] = c.Accepts[g.Key]
		if s, ok := c.Suite[g.Key]; ok {
			suites[g.Key] = s
		}
	}
	out["suites"] = suites
	return out
}
