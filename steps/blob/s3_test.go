package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/blobtest"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
)

func TestMain(m *testing.M) {
	blob.SetS3TestBackend(func(t *testing.T) *blob.S3 { return smallParts(t, s3test.Shared(t)) })
	s3test.Main(m)
}

// TestIntegrationS3Conformance runs the backend suite against versitygw,
// under a key prefix so that names are relative to it.
func TestIntegrationS3Conformance(t *testing.T) {
	srv := s3test.Shared(t)
	blobtest.Run(t, blobtest.Harness{
		New: func(t *testing.T) blob.Backend {
			b := srv.Backend(t, "backups/2026")
			t.Cleanup(func() { assertNoUploads(t, srv, b) })
			return b
		},
		ReadOnly: func(t *testing.T) blob.Backend { return readOnlyS3(t, srv) },
	})
}

// readOnlyS3 returns a backend over a bucket whose folder in the server's
// posix root is immutable, so the server cannot store anything in it (even
// running as root). It skips when chattr cannot do that here.
func readOnlyS3(t *testing.T, srv *s3test.Server) blob.Backend {
	b := srv.Backend(t, "")
	dir := filepath.Join(srv.Root, b.Bucket())
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		testenv.SkipUnlessCI(t, "cannot make bucket folder %s immutable (chattr +i: %v: %s): no way to make a read-only bucket", dir, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	return b
}

// assertNoUploads fails when an incomplete multipart upload is left in b's
// bucket: an aborted or committed writer must leave none.
func assertNoUploads(t *testing.T, srv *s3test.Server, b *blob.S3) {
	t.Helper()
	for up := range srv.Client(t).ListIncompleteUploads(context.Background(), b.Bucket(), "", true) {
		if up.Err != nil {
			t.Errorf("listing incomplete uploads: %v", up.Err)
			return
		}
		t.Errorf("incomplete multipart upload left behind: %s (id %s)", up.Key, up.UploadID)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// onlyReader hides every method but Read, so the stream's length is
// unknown to the writer, as with a pipe.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// smallParts returns a backend with 5 MiB parts, 2 in flight.
func smallParts(t *testing.T, srv *s3test.Server) *blob.S3 {
	cfg := srv.Config()
	cfg.PartSize, cfg.PartsInFlight = blob.MinPartSize, 2
	b, err := blob.NewS3WithKeys(cfg, srv.NewBucket(t), "p", s3test.AccessKey, s3test.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload streams data to name and commits it.
func upload(ctx context.Context, b blob.Backend, name string, data []byte) error {
	w, err := b.Create(ctx, name, blob.CreateOptions{})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, onlyReader{bytes.NewReader(data)}); err != nil {
		return errors.Join(err, w.Abort())
	}
	if err := w.Commit(ctx); err != nil {
		return errors.Join(err, w.Abort())
	}
	return nil
}

// TestIntegrationS3MultipartUnknownLength streams 23 MiB of unknown length
// in 5 MiB parts and checks the object's content and that the service
// stored it as five parts.
func TestIntegrationS3MultipartUnknownLength(t *testing.T) {
	srv := s3test.Shared(t)
	b := smallParts(t, srv)
	data := randomBytes(t, 23<<20+123)
	if err := upload(context.Background(), b, "big.bin", data); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Open(context.Background(), "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), differing from the %d streamed", len(got), err, len(data))
	}
	oi, err := srv.Client(t).StatObject(context.Background(), b.Bucket(), "p/big.bin", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(oi.ETag, "-5") {
		t.Errorf("ETag %q: want a multipart ETag of 5 parts", oi.ETag)
	}
	assertNoUploads(t, srv, b)
}

// TestIntegrationS3AbortMidStream aborts after two parts were sent: no
// object and no incomplete upload remain.
func TestIntegrationS3AbortMidStream(t *testing.T) {
	srv := s3test.Shared(t)
	b := smallParts(t, srv)
	w, err := b.Create(context.Background(), "gone.bin", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(t, 12<<20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(context.Background(), "gone.bin"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Stat after Abort: %v, want ErrNotExist", err)
	}
	assertNoUploads(t, srv, b)
}
