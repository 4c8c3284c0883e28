package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

func testStepContext(id string) *runner.StepContext {
	return &runner.StepContext{ID: id, Type: id, RunID: "run-1", PlanName: "test-plan",
		Logger: hclog.NewNullLogger(), Secrets: []string{"s3cr3t"}, Keys: testKeys(nil)}
}

func randomData(t *testing.T, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	return data
}

// stream runs data through a real checksum step and returns the upstream
// chain an upload would see: a source stage, then the checksum stage.
func stream(t *testing.T, data []byte, algorithm string) []runner.Stage {
	t.Helper()
	c := &Checksum{Algorithm: algorithm}
	out, err := c.Transform(context.Background(), testStepContext("sum"), bytes.NewReader(data), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	return []runner.Stage{
		{ID: "dump", Type: "dump", Outputs: runner.Outputs{"bytes": int64(len(data)), "server_version": "17.2", "database": "app", "format": "custom"}},
		{ID: "sum", Type: "checksum", Params: c, Outputs: out},
	}
}

// files lists the names in dir, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func consume(t *testing.T, u *Upload, data []byte) (runner.Outputs, runner.Pending) {
	t.Helper()
	u.AllowPlaintext = true // storage tests: TestUploadRefusesPlaintextAtRunTime covers the age check
	out, p, err := u.Consume(context.Background(), testStepContext("upload"), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	return out, p
}

func TestUploadCommitWritesObjectSidecarManifest(t *testing.T) {
	for _, alg := range []string{"sha256", "sha512"} {
		t.Run(alg, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "backups", "day")
			data := randomData(t, 1<<20+3)
			u := &Upload{To: "file://" + dir + "/app.dump.age"}
			out, p := consume(t, u, data)
			if got := files(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], ".app.dump.age.sluice-tmp-") {
				t.Fatalf("before Commit the folder holds %q, want one temporary file", got)
			}
			if out["bytes"] != int64(len(data)) || out["object"] != "app.dump.age" || out["url"] != "file://"+dir+"/app.dump.age" {
				t.Fatalf("Consume outputs = %v", out)
			}
			up := stream(t, data, alg)
			cout, err := p.Commit(context.Background(), up)
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			want := []string{"app.dump.age", "app.dump.age." + alg, "app.dump.age.manifest.json", "app.dump.age.manifest.json.sig"}
			sort.Strings(want)
			if got := files(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("after Commit the folder holds %q, want %q", got, want)
			}
			// The standard tool must accept the sidecar.
			cmd := exec.Command(alg+"sum", "-c", "app.dump.age."+alg)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%ssum -c failed: %v\n%s", alg, err, b)
			}
			if cout["digest"] != up[1].Outputs["digest"] || cout["manifest"] != "file://"+dir+"/app.dump.age.manifest.json" {
				t.Fatalf("Commit outputs = %v", cout)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "app.dump.age.manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Plan != "test-plan" || m.RunID != "run-1" || m.Object != "app.dump.age" || m.StoredBytes != int64(len(data)) ||
				m.PlaintextBytes != int64(len(data)) || m.Source.Engine != "postgresql" || m.Digest.Algorithm != alg ||
				m.Digest.Hex != up[1].Outputs["digest"] || len(m.Stages) != 2 {
				t.Fatalf("manifest = %s", raw)
			}
			if err := p.Abort(); err != nil {
				t.Fatalf("Abort after Commit: %v", err)
			}
			if got := files(t, dir); len(got) != 4 {
				t.Fatalf("Abort after Commit removed files: %q", got)
			}
		})
	}
}

func TestUploadWithoutChecksumRecordsOwnDigest(t *testing.T) {
	dir := t.TempDir()
	data := []byte("not much of a backup")
	_, p := consume(t, &Upload{To: filepath.Join(dir, "x.age")}, data)
	out, err := p.Commit(context.Background(), []runner.Stage{{ID: "src", Type: "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if out["digest"] != hex.EncodeToString(sum[:]) || out["digest_algorithm"] != "sha256" {
		t.Fatalf("outputs = %v, want the sha256 of the data", out)
	}
	if got := files(t, dir); strings.Join(got, " ") != "x.age x.age.manifest.json x.age.manifest.json.sig" {
		t.Fatalf("folder holds %q, want the object, its manifest and signature only", got)
	}
}

func TestUploadAbortLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	_, p := consume(t, &Upload{To: "file://" + dir + "/a.age"}, randomData(t, 5000))
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("after Abort the folder holds %q", got)
	}
}

func TestUploadRefusesOverwrite(t *testing.T) {
	for _, existing := range []string{"a.age", "a.age.manifest.json", "a.age.sha256"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, existing), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		u := &Upload{To: filepath.Join(dir, "a.age")}
		_, _, err := u.Consume(context.Background(), testStepContext("upload"), strings.NewReader("new"))
		if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "overwrite: true") {
			t.Fatalf("with %s present: Consume error = %v, want a refusal naming overwrite: true", existing, err)
		}
	}
}

func TestUploadOverwrite(t *testing.T) {
	dir := t.TempDir()
	to := filepath.Join(dir, "a.age")
	for _, alg := range []string{"sha256", "sha512"} {
		_, p := consume(t, &Upload{To: to, Overwrite: true}, []byte(alg))
		if _, err := p.Commit(context.Background(), stream(t, []byte(alg), alg)); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(t, dir); strings.Join(got, " ") != "a.age a.age.manifest.json a.age.manifest.json.sig a.age.sha512" {
		t.Fatalf("folder holds %q: the stale sha256 sidecar survived", got)
	}
	// A third upload, without checksum step, must drop the sha512 sidecar,
	// and the parts of an older backup of this name in parts.
	for _, f := range []string{"a.part-01-data.age", "a.part-01-data.age.sha256", "ab.part-01-data.age"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("part"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, p := consume(t, &Upload{To: to, Overwrite: true}, []byte("third"))
	if _, err := p.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); strings.Join(got, " ") != "a.age a.age.manifest.json a.age.manifest.json.sig ab.part-01-data.age" {
		t.Fatalf("folder holds %q: a stale sidecar or part survived, or another backup's part went", got)
	}
	if b, _ := os.ReadFile(to); string(b) != "third" {
		t.Fatalf("object = %q", b)
	}
}

func TestUploadDigestMismatchFailsCommit(t *testing.T) {
	dir := t.TempDir()
	data := randomData(t, 4096)
	_, p := consume(t, &Upload{To: filepath.Join(dir, "a.age")}, data)
	other := append([]byte{}, data...)
	other[100] ^= 1
	_, err := p.Commit(context.Background(), stream(t, other, "sha256"))
	if err == nil || !strings.Contains(err.Error(), "digest differs") {
		t.Fatalf("Commit error = %v, want a digest mismatch", err)
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("after a refused Commit the folder holds %q", got)
	}
}

func TestUploadManifestFailureRemovesObject(t *testing.T) {
	dir := t.TempDir()
	data := randomData(t, 4096)
	_, p := consume(t, &Upload{To: filepath.Join(dir, "a.age")}, data)
	// Something takes the manifest's name while the stream flows.
	if err := os.Mkdir(filepath.Join(dir, "a.age.manifest.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := p.Commit(context.Background(), stream(t, data, "sha256"))
	if err == nil || !strings.Contains(err.Error(), "writing manifest") {
		t.Fatalf("Commit error = %v, want a manifest write failure", err)
	}
	p.Abort()
	if got := files(t, dir); strings.Join(got, " ") != "a.age.manifest.json" {
		t.Fatalf("after a failed manifest write the folder holds %q: the object or sidecar survived", got)
	}
}

func TestUploadValidate(t *testing.T) {
	if err := (&Upload{To: "file://./backups/x.age"}).Validate(); err != nil {
		t.Fatal(err)
	}
	if !(&Upload{AllowPlaintext: true}).AllowsPlaintext() || (&Upload{}).AllowsPlaintext() {
		t.Fatal("AllowsPlaintext does not follow allow_plaintext")
	}
}

// TestUploadSigns: the manifest's signature covers its exact bytes and
// verifies with the store's verification keys (the upload's output names
// the key); unsigned: true writes none; without any key store the upload
// fails before it reads the stream.
func TestUploadSigns(t *testing.T) {
	dir := t.TempDir()
	to := filepath.Join(dir, "a.age")
	data := randomData(t, 4096)
	_, p := consume(t, &Upload{To: to}, data)
	out, err := p.Commit(context.Background(), stream(t, data, "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(to + ".manifest.json")
	sig, _ := os.ReadFile(to + ".manifest.json.sig")
	k, err := testTrust(t).Verifier.Verify(raw, sig, signing.ManifestNamespace)
	if err != nil || out["signed_by"] != k.ID || out["signature"] != "file://"+to+".manifest.json.sig" {
		t.Fatalf("signature: key %s, %v; outputs %v", k.ID, err, out)
	}

	to2 := filepath.Join(dir, "b.age")
	_, p = consume(t, &Upload{To: to2, Unsigned: true}, data)
	if out, err := p.Commit(context.Background(), stream(t, data, "sha256")); err != nil || out["signed_by"] != "" {
		t.Fatalf("unsigned upload: %v, %v", out, err)
	}
	if _, err := os.Stat(to2 + ".manifest.json.sig"); err == nil {
		t.Error("unsigned: true wrote a signature")
	}

	sc := testStepContext("upload")
	sc.Keys = nil
	// No store known before the stream (an encrypt step's could be), and
	// none at commit.
	_, p2, err := (&Upload{To: filepath.Join(dir, "d.age"), AllowPlaintext: true}).Consume(context.Background(), sc, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Commit(context.Background(), stream(t, data, "sha256")); err == nil || !strings.Contains(err.Error(), "no key store to sign the manifest") {
		t.Fatalf("upload without a key store: %v", err)
	}
	if got := files(t, dir); slices.Contains(got, "d.age") || slices.Contains(got, "d.age.manifest.json") {
		t.Errorf("a failed signature left %q", got)
	}
	sc.Keys = map[string]runner.KeyConfig{"backup": {Name: "backup", Path: filepath.Join(dir, "no-such-store")}}
	r := &countingReader{r: bytes.NewReader(data)}
	if _, _, err := (&Upload{To: filepath.Join(dir, "e.age"), AllowPlaintext: true}).Consume(context.Background(), sc, r); err == nil || !strings.Contains(err.Error(), "signing the manifest") || r.n != 0 {
		t.Fatalf("upload with a missing store: %v after %d bytes, want an error before reading", err, r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
