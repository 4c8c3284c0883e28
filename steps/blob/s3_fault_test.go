package blob_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
)

// TestIntegrationS3ServerStoppedMidUpload kills the server after two parts
// went up: the upload fails, no object appears once the server is back, and
// the same upload run again succeeds.
func TestIntegrationS3ServerStoppedMidUpload(t *testing.T) {
	srv := s3test.Start(t)
	b := smallParts(t, srv)
	ctx := context.Background()
	data := randomBytes(t, 17<<20)

	w, err := b.Create(ctx, "app.dump", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:11<<20]); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, werr := w.Write(data[11<<20:])
	cerr := w.Commit(ctx)
	if werr == nil && cerr == nil {
		t.Fatal("upload succeeded with the server stopped")
	}
	t.Logf("write error: %v; commit error: %v", werr, cerr)
	// The server is down: aborting cannot reach it and must say so.
	if err := w.Abort(); err == nil || !strings.Contains(err.Error(), "upload id") {
		t.Errorf("Abort with the server down: error = %v, want one naming the upload left behind", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "app.dump"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("after the failed upload: Stat error = %v, want ErrNotExist", err)
	}
	if got := listNames(t, b); len(got) != 0 {
		t.Fatalf("after the failed upload: List = %q, want nothing", got)
	}
	if err := upload(ctx, b, "app.dump", data); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if info, err := b.Stat(ctx, "app.dump"); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("rerun stored %+v, %v; want %d bytes", info, err, len(data))
	}
}

func listNames(t *testing.T, b blob.Backend) []string {
	t.Helper()
	infos, err := b.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Name)
	}
	return out
}

// TestIntegrationS3PartRetried puts a reverse proxy on 127.0.0.1 in front of
// the real server: it answers the first upload of part 2 with 503 SlowDown,
// as a throttling service would, and forwards everything else. The upload
// must retry that part and succeed.
func TestIntegrationS3PartRetried(t *testing.T) {
	srv := s3test.Shared(t)
	var mu sync.Mutex
	var part2, rejected int
	fp := newFaultProxy(t, srv)
	fp.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || r.URL.Query().Get("partNumber") != "2" {
			return false
		}
		mu.Lock()
		part2++
		reject := rejected == 0
		if reject {
			rejected++
		}
		mu.Unlock()
		if reject {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		}
		return reject
	}
	b := fp.backend(t, srv, srv.NewBucket(t))
	data := randomBytes(t, 12<<20)
	if err := upload(context.Background(), b, "x.bin", data); err != nil {
		t.Fatalf("upload through a throttling proxy: %v", err)
	}
	if rejected != 1 || part2 != 2 {
		t.Fatalf("part 2 was sent %d times and rejected %d times, want 2 and 1", part2, rejected)
	}
	if info, err := b.Stat(context.Background(), "x.bin"); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

// TestIntegrationS3WrongCredentials checks that a refused secret gives an
// error naming the bucket and endpoint, but not the secret.
func TestIntegrationS3WrongCredentials(t *testing.T) {
	srv := s3test.Shared(t)
	bucket := srv.NewBucket(t)
	const wrong = "not-the-secret-4242"
	b, err := blob.NewS3WithKeys(srv.Config(), bucket, "", s3test.AccessKey, wrong)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Create(context.Background(), "x", blob.CreateOptions{})
	if err == nil {
		t.Fatal("Create with a wrong secret succeeded")
	}
	msg := err.Error()
	for _, want := range []string{bucket, srv.Endpoint, "refused the credentials", "AWS_SECRET_ACCESS_KEY"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, s3test.SecretKey) {
		t.Errorf("error %q shows a secret", msg)
	}
}

// TestIntegrationS3MissingBucket checks the message for a bucket that does
// not exist.
func TestIntegrationS3MissingBucket(t *testing.T) {
	srv := s3test.Shared(t)
	b, err := blob.NewS3WithKeys(srv.Config(), "no-such-bucket", "day", s3test.AccessKey, s3test.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Create(context.Background(), "x", blob.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist at `+srv.Endpoint) {
		t.Fatalf("Create into a missing bucket: error = %v", err)
	}
	if err := b.Put(context.Background(), "x", []byte("x"), blob.CreateOptions{Overwrite: true}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Put into a missing bucket: error = %v", err)
	}
	for what, err := range map[string]error{
		"Stat": func() error { _, err := b.Stat(context.Background(), "x"); return err }(),
		"Open": func() error { _, err := b.Open(context.Background(), "x"); return err }(),
	} {
		if !errors.Is(err, blob.ErrNotExist) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
			t.Errorf("%s in a missing bucket: error = %v, want ErrNotExist naming the bucket", what, err)
		}
	}
}

// TestIntegrationS3BoundedMemory streams 96 MiB in 5 MiB parts with 2 in
// flight and checks that the whole process allocated (not merely kept) far
// less than the stream: the writer holds at most 2 × 5 MiB of it (about
// 15 MiB allocated while its first buffer grows), minio-go's request
// signing about 8% of the bytes sent. A writer that buffered the stream
// would allocate at least 96 MiB.
func TestIntegrationS3BoundedMemory(t *testing.T) {
	srv := s3test.Shared(t)
	b := smallParts(t, srv)
	const size = 96 << 20
	src := io.LimitReader(zeroes{}, size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := b.Create(context.Background(), "zeros.bin", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyBuffer(w, src, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %.1f MiB to upload %d MiB", float64(alloc)/(1<<20), size>>20)
	if alloc > size/2 {
		t.Fatalf("allocated %d MiB to upload %d MiB: the writer is not bounded by its part budget", alloc>>20, size>>20)
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestS3ConnectionRefused checks that an endpoint nobody listens on fails
// quickly, after the configured retries, naming the endpoint.
func TestS3ConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := blob.S3Config{Endpoint: "http://" + addr, PathStyle: true, Retries: 2}
	b, err := blob.NewS3WithKeys(cfg, "bkt", "", "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Stat(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), addr) || errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Stat on a closed port: error = %v", err)
	}
}

// BenchmarkS3Upload compares the backend's streaming upload with minio-go's
// own PutObject of unknown length (its multipart uploader, the reference)
// into the same local server, 128 MiB each: report the ratio of the two
// ns/op, e.g. go test ./steps/blob -run '^$' -bench S3Upload -benchtime 3x.
func BenchmarkS3Upload(b *testing.B) {
	const size = 128 << 20
	srv := s3test.Shared(b)
	bucket := srv.NewBucket(b)
	b.Run("backend", func(b *testing.B) {
		bk, err := blob.NewS3WithKeys(srv.Config(), bucket, "backend", s3test.AccessKey, s3test.SecretKey)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for range b.N {
			w, err := bk.Create(context.Background(), "x", blob.CreateOptions{Overwrite: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(w, io.LimitReader(zeroes{}, size)); err != nil {
				b.Fatal(err)
			}
			if err := w.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("minio-putobject", func(b *testing.B) {
		c := srv.Client(b)
		b.SetBytes(size)
		for range b.N {
			_, err := c.PutObject(context.Background(), bucket, "ref/x", io.LimitReader(zeroes{}, size), -1,
				minio.PutObjectOptions{PartSize: blob.DefaultPartSize, NumThreads: blob.DefaultPartsInFlight})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestIntegrationS3CommitCancelledAfterServerStored: the final request of
// an upload (Complete, or the one PUT of a short stream) reaches the
// server, which stores the object, and the run is cancelled (Ctrl-C, a step
// timeout) before the reply arrives. Commit fails; Abort must then remove
// the object, not leave a complete one without its manifest that blocks the
// next run's name.
func TestIntegrationS3CommitCancelledAfterServerStored(t *testing.T) {
	srv := s3test.Shared(t)
	for _, size := range []int{12 << 20, 1 << 20} {
		ctx, cancel := context.WithCancel(context.Background())
		fp := newFaultProxy(t, srv)
		fp.cut = func(r *http.Request) int64 {
			q := r.URL.Query()
			complete := r.Method == http.MethodPost && q.Has("uploadId")
			single := r.Method == http.MethodPut && !q.Has("partNumber") && size < blob.MinPartSize
			if complete || single {
				cancel()             // the interrupt arrives now
				<-r.Context().Done() // and the reply never reaches the client
			}
			return -1
		}
		b := fp.backend(t, srv, srv.NewBucket(t))
		w, err := b.Create(ctx, "app.age", blob.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(t, size)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err == nil {
			t.Fatalf("%d bytes: Commit succeeded although cancelled", size)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("%d bytes: Abort: %v", size, err)
		}
		if info, err := b.Stat(context.Background(), "app.age"); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("%d bytes: after the cancelled Commit and Abort: %+v, %v; want no object", size, info, err)
		}
	}
}
