package tlsaudit

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
)

var (
	opensslNew  = regexp.MustCompile(`New, (TLSv[0-9.]+), Cipher is (\S+)`)
	opensslCert = regexp.MustCompile(`(?s)-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n`)
)

// opensslAgrees connects to the PostgreSQL server at addr with an
// independent client, `openssl s_client -starttls postgres` (pinned to TLS
// 1.0 with pin "-tls1"), and checks that it agrees with the report on the
// negotiated version and on the certificate's dates. Pinned to TLS 1.0 when
// check-tls found it refused, openssl must fail to connect.
func opensslAgrees(t *testing.T, addr, pin string, r *Report) {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "the openssl cross-check needs it")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := []string{"s_client", "-starttls", "postgres", "-connect", addr}
	if pin != "" {
		args = append(args, pin, "-cipher", "DEFAULT:@SECLEVEL=0")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader("")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if pin == "-tls1" && !r.Accepts["tls10"] {
		if err == nil && opensslNew.Match(out) && !bytes.Contains(out, []byte("Cipher is (NONE)")) {
			t.Errorf("openssl pinned to TLS 1.0 connected, check-tls says tls10 is refused:\n%s", out)
		}
		return
	}
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	m := opensslNew.FindSubmatch(out)
	if m == nil {
		t.Fatalf("openssl printed no negotiated version:\n%s", out)
	}
	version := strings.TrimSuffix(string(m[1]), ".0") // openssl prints TLSv1.0, PostgreSQL says TLSv1
	switch pin {
	case "":
		if version != r.Version {
			t.Errorf("openssl negotiated %s, check-tls %s", version, r.Version)
		}
	case "-tls1":
		if version != "TLSv1" || !r.Accepts["tls10"] {
			t.Errorf("openssl pinned to TLS 1.0 negotiated %s; check-tls says tls10 accepted = %v", version, r.Accepts["tls10"])
		}
	}

	pem := opensslCert.Find(out)
	if pem == nil {
		t.Fatalf("openssl printed no certificate:\n%s", out)
	}
	x := exec.CommandContext(ctx, bin, "x509", "-noout", "-startdate", "-enddate")
	x.Stdin = bytes.NewReader(pem)
	dates, err := x.Output()
	if err != nil {
		t.Fatalf("openssl x509: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(dates)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got, err := time.Parse("Jan _2 15:04:05 2006 MST", v)
		if err != nil {
			t.Fatalf("openssl date %q: %v", v, err)
		}
		want := r.Cert.NotBefore
		if k == "notAfter" {
			want = r.Cert.NotAfter
		}
		if !got.Equal(want.Truncate(time.Second)) {
			t.Errorf("openssl %s = %s, check-tls %s", k, got, want)
		}
	}
}
