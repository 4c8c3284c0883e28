package steps

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
	"github.com/sluice-dev/sluice/steps/signing"
)

const s3CopyPlan = `version: 1
name: s3-copy
params:
  from: {type: string, required: true}
  to:   {type: string, required: true}
  keys: {type: string, required: true}
  unsigned: {type: bool, default: false}
keys:
  backup: {store: dir, path: "${{ params.keys }}"}
steps:
  get: {type: download, with: {from: "${{ params.from }}", allow_unsigned: "${{ params.unsigned }}"}}
  sum: {type: checksum, input: get}
  put:
    type: upload
    input: sum
    with: {to: "${{ params.to }}", allow_plaintext: true}
    assert:
      - that: steps.put.bytes == steps.get.bytes
  gate:
    type: assert
    with: {message: checking the copy}
    assert:
      - that: steps.put.digest == steps.sum.digest && steps.put.manifest endsWith ".manifest.json" && steps.put.signed_by != ""
`

// s3Object reads a whole object around the backend, with the server's own
// client.
func s3Object(t *testing.T, srv *s3test.Server, bucket, key string) []byte {
	t.Helper()
	obj, err := srv.Client(t).GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading s3://%s/%s: %v", bucket, key, err)
	}
	return data
}

// s3Keys lists a bucket's objects and incomplete multipart uploads.
func s3Keys(t *testing.T, srv *s3test.Server, bucket string) (keys, uploads []string) {
	t.Helper()
	c := srv.Client(t)
	for oi := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		keys = append(keys, oi.Key)
	}
	for up := range c.ListIncompleteUploads(context.Background(), bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		uploads = append(uploads, up.Key)
	}
	return keys, uploads
}

// TestIntegrationS3PlanRoundTrip runs download -> checksum -> upload from a
// file to s3:// through the loader and scheduler, with the settings in the
// environment as a user sets them; checks the object, its sidecar and its
// manifest in the bucket; then copies it back from s3:// to a file.
func TestIntegrationS3PlanRoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	t.Setenv("SLUICE_S3_PART_SIZE", "5MiB") // three parts
	bucket := srv.NewBucket(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "app.bin")
	data := randomData(t, 12<<20+5)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}

	url := "s3://" + bucket + "/nightly/app.bin"
	// The source file has no manifest (unsigned); the copy in the bucket is
	// signed with the test store and its signature is checked on the way
	// back.
	rep, err := runPlan(t, s3CopyPlan, map[string]any{"from": src, "to": url, "keys": testKeyStore(t), "unsigned": true})
	if err != nil || rep.Status != runner.StatusSucceeded {
		t.Fatalf("file -> s3 run: status %v, error %v", rep, err)
	}
	if got := s3Object(t, srv, bucket, "nightly/app.bin"); !bytes.Equal(got, data) {
		t.Fatalf("object holds %d bytes differing from the %d uploaded", len(got), len(data))
	}
	sum := sha256.Sum256(data)
	side := string(s3Object(t, srv, bucket, "nightly/app.bin.sha256"))
	if want := hex.EncodeToString(sum[:]) + "  app.bin\n"; side != want {
		t.Errorf("sidecar = %q, want %q", side, want)
	}
	man := string(s3Object(t, srv, bucket, "nightly/app.bin.manifest.json"))
	if !strings.Contains(man, hex.EncodeToString(sum[:])) || !strings.Contains(man, `"s3-copy"`) {
		t.Errorf("manifest does not record the digest and the plan:\n%s", man)
	}
	if _, uploads := s3Keys(t, srv, bucket); len(uploads) != 0 {
		t.Errorf("incomplete uploads left: %q", uploads)
	}

	dst := filepath.Join(dir, "back", "app.bin")
	raw := s3Object(t, srv, bucket, "nightly/app.bin.manifest.json")
	if _, err := testTrust(t).Verifier.Verify(raw, s3Object(t, srv, bucket, "nightly/app.bin.manifest.json.sig"), signing.ManifestNamespace); err != nil {
		t.Errorf("manifest signature in the bucket: %v", err)
	}
	rep, err = runPlan(t, s3CopyPlan, map[string]any{"from": url, "to": dst, "keys": testKeyStore(t)})
	if err != nil || rep.Status != runner.StatusSucceeded {
		t.Fatalf("s3 -> file run: status %v, error %v", rep, err)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy back differs from the source (%v)", err)
	}
	if _, err := os.Stat(dst + ".manifest.json"); err != nil {
		t.Errorf("copy back has no manifest: %v", err)
	}
	if st := rep.Steps[0]; st.Outputs["signed_by"] == "" {
		t.Errorf("the download from s3:// did not check a signature: %v", st.Outputs)
	}
}

// TestIntegrationS3PlanFailureLeavesNothing streams a source whose bytes
// differ from its sidecar: the download fails at the end of the stream,
// after three parts went up, and the bucket must hold neither an object
// nor an incomplete upload.
func TestIntegrationS3PlanFailureLeavesNothing(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	t.Setenv("SLUICE_S3_PART_SIZE", "5MiB")
	bucket := srv.NewBucket(t)
	src := filepath.Join(t.TempDir(), "app.bin")
	data := randomData(t, 12<<20)
	sum := sha256.Sum256(data)
	data[len(data)-1] ^= 1
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src+".sha256", []byte(hex.EncodeToString(sum[:])+"  app.bin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := runPlan(t, s3CopyPlan, map[string]any{"from": src, "to": "s3://" + bucket + "/app.bin", "keys": testKeyStore(t), "unsigned": true})
	if err == nil && rep.Status == runner.StatusSucceeded {
		t.Fatal("a corrupted source was uploaded")
	}
	t.Logf("run error: %v", err)
	keys, uploads := s3Keys(t, srv, bucket)
	if len(keys) != 0 || len(uploads) != 0 {
		t.Fatalf("a failed run left objects %q and incomplete uploads %q", keys, uploads)
	}
}
