package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The real Pushgateway is in cmd/sluice's integration test; this server
// records what Push sends and answers as the Pushgateway's API does.
func TestPushRequest(t *testing.T) {
	type req struct {
		method, path, auth, body string
		header                   http.Header
	}
	var got []req
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, _ := r.BasicAuth()
		got = append(got, req{r.Method, r.URL.EscapedPath(), u + ":" + p, string(b), r.Header})
		if r.Method == http.MethodGet {
			io.WriteString(w, `sluice_run_consecutive_failures{instance="",job="sluice",plan="backup",target="db/1"} 4
sluice_run_consecutive_failures{instance="",job="sluice",plan="backup",target="db2"} 9
`)
		}
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://ops:s3cret-pw@", 1) + "/"
	if err := Push(context.Background(), url, Run(report("backup", false, 100), RunOptions{Target: "db/1"})); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].method != "GET" || got[1].method != "POST" {
		t.Fatalf("requests %+v, want GET /metrics then POST", got)
	}
	// A target with a slash is base64 in the grouping key.
	if p := got[1].path; !strings.HasPrefix(p, "/metrics/job/sluice/") || !strings.Contains(p+"/", "/plan/backup/") ||
		!strings.Contains(p+"/", "/target@base64/ZGIvMQ/") {
		t.Errorf("pushed to %s, want job sluice, plan backup, target db/1", p)
	}
	if got[0].auth != "ops:s3cret-pw" || got[1].auth != "ops:s3cret-pw" {
		t.Errorf("basic auth %q, %q", got[0].auth, got[1].auth)
	}
	body := series(t, decode(t, got[1].body, got[1].header))
	expect(t, body, map[string]float64{`sluice_run_consecutive_failures{}`: 5, `sluice_run_success{}`: 0}, "plan=", "target=")

	// A snapshot replaces its group (PUT) and reads nothing first.
	got = nil
	s := NewSet("dest", "s3://b/app")
	s.Snapshot = true
	s.set("sluice_catalog_backups", 1)
	if err := Push(context.Background(), srv.URL, s); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].method != "PUT" || got[0].path != "/metrics/job/sluice/dest@base64/czM6Ly9iL2FwcA" {
		t.Errorf("requests %+v", got)
	}
}

// A Pushgateway that refuses the push: the error names it, without the
// password of its URL.
func TestPushErrorHidesPassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "pushed metrics are invalid", http.StatusBadRequest)
	}))
	defer srv.Close()
	for _, url := range []string{
		strings.Replace(srv.URL, "http://", "http://ops:s3cret-pw@", 1),
		"http://ops:s3cret-pw@[::1", // does not parse
		"ftp://ops:s3cret-pw@host/",
	} {
		err := Push(context.Background(), url, Run(report("backup", true, 100), RunOptions{}))
		if err == nil {
			t.Fatalf("%s: no error", url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// decode turns a pushed body, in the format its Content-Type names, into
// the text format.
func decode(t *testing.T, body string, h http.Header) string {
	t.Helper()
	dec := expfmt.NewDecoder(strings.NewReader(body), expfmt.ResponseFormat(h))
	var out strings.Builder
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if err == io.EOF {
			return out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(&mf); err != nil {
			t.Fatal(err)
		}
	}
}
