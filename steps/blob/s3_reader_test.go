package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
)

// faultProxy is a reverse proxy on 127.0.0.1 in front of the real server.
// Its hook sees every request first and may answer it itself (returning
// true); its cut, when set, may shorten a response's body to its first n
// bytes (n >= 0) and then break the connection, as a reset would.
type faultProxy struct {
	*httptest.Server
	hook func(w http.ResponseWriter, r *http.Request) bool
	cut  func(r *http.Request) int64
}

func newFaultProxy(t *testing.T, srv *s3test.Server) *faultProxy {
	t.Helper()
	target, _ := url.Parse(srv.Endpoint)
	fp := &faultProxy{}
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host header the client signed
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	proxy.FlushInterval = -1 // every byte read before a cut reaches the client
	proxy.ModifyResponse = func(resp *http.Response) error {
		if fp.cut == nil {
			return nil
		}
		if n := fp.cut(resp.Request); n >= 0 {
			resp.Body = &cutBody{r: io.LimitReader(resp.Body, n), c: resp.Body}
		}
		return nil
	}
	fp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fp.hook != nil && fp.hook(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(fp.Close)
	return fp
}

// backend returns a backend of bucket that goes through the proxy.
func (fp *faultProxy) backend(t *testing.T, srv *s3test.Server, bucket string) *blob.S3 {
	t.Helper()
	cfg := srv.Config()
	cfg.Endpoint, cfg.PartSize, cfg.PartsInFlight = fp.URL, blob.MinPartSize, 2
	b, err := blob.NewS3WithKeys(cfg, bucket, "", s3test.AccessKey, s3test.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cutBody delivers its limit and then fails, so that the reverse proxy
// aborts the response mid-body.
type cutBody struct {
	r io.Reader
	c io.Closer
}

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = errors.New("connection cut by the test proxy")
	}
	return n, err
}

func (b *cutBody) Close() error { return b.c.Close() }

// getLog records the object GETs that went through a proxy.
type getLog struct {
	mu    sync.Mutex
	gets  []http.Header
	first int64 // bytes the first GET delivers
}

func (g *getLog) cut(r *http.Request) int64 {
	if r.Method != http.MethodGet || r.URL.Query().Has("location") || strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
		return -1 // not an object GET
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gets = append(g.gets, r.Header.Clone())
	if len(g.gets) == 1 {
		return g.first
	}
	return -1
}

// TestIntegrationS3ResumedGet cuts the first GET's body after 3 MiB + 17
// bytes: the download must resume with a Range from that offset, on the
// same ETag, and deliver every byte once and in order.
func TestIntegrationS3ResumedGet(t *testing.T) {
	srv := s3test.Shared(t)
	direct := srv.Backend(t, "")
	ctx := context.Background()
	data := randomBytes(t, 7<<20)
	fp := newFaultProxy(t, srv)
	b := fp.backend(t, srv, direct.Bucket())
	if err := upload(ctx, direct, "x.bin", data); err != nil {
		t.Fatal(err)
	}
	const at = 3<<20 + 17
	g := &getLog{first: at}
	fp.cut = g.cut

	rc, err := b.Open(ctx, "x.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("download through a proxy that cuts the first GET: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, want the %d stored (first difference at byte %d)", len(got), len(data), firstDiffAt(got, data))
	}
	if len(g.gets) != 2 {
		t.Fatalf("%d object GETs, want 2 (the cut one and its resumption)", len(g.gets))
	}
	if r := g.gets[1].Get("Range"); r != fmt.Sprintf("bytes=%d-", at) {
		t.Errorf("resumed GET Range = %q, want bytes=%d-", r, at)
	}
	if g.gets[1].Get("If-Match") == "" {
		t.Error("resumed GET has no If-Match")
	}
}

// TestIntegrationS3ResumedGetObjectChanged replaces the object between the
// cut and the resumption: the read must fail naming the object, not mix two
// versions.
func TestIntegrationS3ResumedGetObjectChanged(t *testing.T) {
	srv := s3test.Shared(t)
	direct := srv.Backend(t, "")
	ctx := context.Background()
	fp := newFaultProxy(t, srv)
	b := fp.backend(t, srv, direct.Bucket())
	if err := direct.Put(ctx, "y.bin", randomBytes(t, 1<<20), blob.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	g := &getLog{first: 1000}
	fp.cut = g.cut
	rc, err := b.Open(ctx, "y.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := direct.Put(ctx, "y.bin", randomBytes(t, 1<<20), blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	if err == nil || !strings.Contains(err.Error(), b.URL("y.bin")) || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("reading on after the object changed: error = %v, want one naming %s as changed", err, b.URL("y.bin"))
	}
}

func firstDiffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
