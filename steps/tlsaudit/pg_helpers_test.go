package tlsaudit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
	"github.com/sluice-dev/sluice/steps/tlsaudit/tlstest"
)

const testPassword = "tls-audit-test-pw"

// intermediateCiphers are the TLS 1.2 suites of Mozilla's intermediate
// configuration (forward secrecy and AEAD only), in OpenSSL's names.
const intermediateCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// tlsCluster is one throwaway cluster whose TLS settings and pg_hba.conf
// the scenarios change with ALTER SYSTEM and a reload, which is much
// quicker than a cluster per scenario.
type tlsCluster struct {
	*pg.Cluster
	ca      *tlstest.CA
	caFile  string
	leaves  map[string]*tlstest.Leaf // by certificate file name
	gen     int
	dataDir string
}

// startTLSCluster starts a cluster with a password, a CA, one server key
// and certificates for every scenario: valid.crt (issued by the CA for
// 127.0.0.1 and localhost), selfsigned.crt, expired.crt, expiring.crt (in
// ten days) and wronghost.crt (db.example.com only).
func startTLSCluster(t *testing.T) *tlsCluster {
	t.Helper()
	ca := tlstest.NewCA(t, "sluice test CA")
	key := tlstest.ECKey(t)
	now := time.Now()
	leaves := map[string]*tlstest.Leaf{
		"valid.crt":      ca.Issue(t, tlstest.Options{Key: key}),
		"selfsigned.crt": tlstest.SelfSigned(t, tlstest.Options{Key: key}),
		"expired.crt":    ca.Issue(t, tlstest.Options{Key: key, NotBefore: now.AddDate(0, 0, -90), NotAfter: now.Add(-49 * time.Hour)}),
		"expiring.crt":   ca.Issue(t, tlstest.Options{Key: key, NotAfter: now.Add(10*24*time.Hour + time.Hour)}),
		"wronghost.crt":  ca.Issue(t, tlstest.Options{Key: key, DNSNames: []string{"db.example.com"}}),
	}
	// rsa.crt has its own RSA key: RSA key exchange needs one.
	rsaLeaf := ca.Issue(t, tlstest.Options{Key: tlstest.RSAKey(t, 2048)})
	files := map[string][]byte{"server.key": leaves["valid.crt"].KeyPEM, "root.crt": ca.PEM,
		"rsa.crt": rsaLeaf.CertPEM, "rsa.key": rsaLeaf.KeyPEM}
	for name, l := range leaves {
		files[name] = l.CertPEM
	}
	c := pgtest.Start(t, pg.Options{
		Password: testPassword,
		Files:    files,
		Conf: []string{"ssl = on", "ssl_cert_file = 'valid.crt'", "ssl_key_file = 'server.key'",
			"ssl_ca_file = 'root.crt'", "ssl_min_protocol_version = 'TLSv1.2'",
			// Mozilla's intermediate suites; the cipher scenario relaxes them.
			"ssl_ciphers = '" + intermediateCiphers + "'"},
	})
	return &tlsCluster{Cluster: c, ca: ca, leaves: leaves, dataDir: c.DataDir,
		caFile: tlstest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)}
}

// dsn returns a URL DSN for the postgres database as user, with the
// cluster's password when withPassword, plus extra query parameters.
func (c *tlsCluster) dsn(user string, withPassword bool, query string) string {
	u := url.URL{Scheme: "postgres", Host: c.Host + ":" + strconv.Itoa(c.Port), Path: "/postgres", RawQuery: query}
	u.User = url.User(user)
	if withPassword {
		u.User = url.UserPassword(user, testPassword)
	}
	return u.String()
}

// configure resets the settings made by earlier scenarios, applies set
// with ALTER SYSTEM, replaces pg_hba.conf with hba (plus a socket line for
// the test's own connections), reloads, and waits until new sessions see
// the new configuration (log_autovacuum_min_duration, which the scenarios
// do not care about, counts the configurations).
func (c *tlsCluster) configure(t *testing.T, set map[string]string, hba ...string) {
	t.Helper()
	ctx := context.Background()
	c.gen++
	stmts := []string{"ALTER SYSTEM RESET ALL", fmt.Sprintf("ALTER SYSTEM SET log_autovacuum_min_duration = %d", c.gen)}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		stmts = append(stmts, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", k, strings.ReplaceAll(set[k], "'", "''")))
	}
	for _, s := range stmts {
		if err := c.Exec(ctx, "postgres", s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	lines := append([]string{"local all all scram-sha-256"}, hba...)
	// The file exists and belongs to the server's user: rewriting it in
	// place keeps its owner.
	if err := os.WriteFile(filepath.Join(c.dataDir, "pg_hba.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(c.gen)
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pgx.Connect(ctx, c.SocketDSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		err = conn.QueryRow(ctx, "SELECT setting FROM pg_settings WHERE name = 'log_autovacuum_min_duration'").Scan(&got)
		_ = conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("configuration %s not loaded after a minute: %s", want, pg.LastLines(c.ServerLog(), 5))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// audit runs an audit of dsn with the cluster's CA (unless the DSN names
// one) and fails the test on an error.
func (c *tlsCluster) audit(t *testing.T, dsn string, mod func(*Config)) *Report {
	t.Helper()
	cfg := Config{Target: dsn, Timeout: 5 * time.Second}
	if !strings.Contains(dsn, "sslrootcert") {
		cfg.CAFile = c.caFile
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Audit(context.Background(), cfg)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Evidence, testPassword) {
			t.Errorf("finding %s shows the password: %s", f.ID, f.Evidence)
		}
	}
	return r
}
