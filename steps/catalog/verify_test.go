package catalog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// verifyFixture is a key store and a backend of real backups: plaintext ->
// zstd -> age -> checksum, stored with sidecar and manifest as upload does.
type verifyFixture struct {
	b      blob.Backend
	keyDir string
	keyID  string
	// signers is the store whose verification keys check manifests
	// (keyDir unless a test changes it).
	signers string
}

func newVerifyFixture(t *testing.T, b blob.Backend) *verifyFixture {
	t.Helper()
	f := &verifyFixture{b: b, keyDir: filepath.Join(t.TempDir(), "keys")}
	_, k, err := keys.InitDir(f.keyDir, keys.TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	f.keyID = k.ID
	return f
}

// keys names the fixture's store as a plan's keys: entry would.
func (f *verifyFixture) keys() *catalog.Keys {
	return catalog.StoreKeys(runner.KeyConfig{Name: "backup", Path: f.keyDir})
}

// seal compresses and encrypts plain; tamper may change the compressed
// bytes before encryption.
func (f *verifyFixture) seal(t *testing.T, plain []byte, tamper func([]byte) []byte) (ct []byte, stages []runner.Stage) {
	t.Helper()
	return f.sealWith(t, "zstd", plain, tamper)
}

// sealWith is seal with the compression algorithm alg (zstd or gzip).
func (f *verifyFixture) sealWith(t *testing.T, alg string, plain []byte, tamper func([]byte) []byte) (ct []byte, stages []runner.Stage) {
	t.Helper()
	var z bytes.Buffer
	var zw io.WriteCloser
	var err error
	if alg == "gzip" {
		zw, err = gzip.NewWriterLevel(&z, gzip.BestSpeed)
	} else {
		zw, err = zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedDefault))
	}
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zb := z.Bytes()
	if tamper != nil {
		zb = tamper(zb)
	}
	d, err := keys.OpenDir(f.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := d.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	aw, err := age.Encrypt(&sealed, rs...)
	if err != nil {
		t.Fatal(err)
	}
	aw.Write(zb)
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return sealed.Bytes(), []runner.Stage{
		{ID: "dump", Type: "dump", Outputs: runner.Outputs{"bytes": int64(len(plain)), "database": "app"}},
		{ID: "compress", Type: "compress", Outputs: runner.Outputs{"algorithm": alg, "bytes_out": int64(len(zb))}},
		{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{f.keyID}}},
		{ID: "checksum", Type: "checksum", Outputs: runner.Outputs{}},
	}
}

// store writes the object, its sidecar and its manifest (last).
func (f *verifyFixture) store(t *testing.T, name string, created time.Time, ct []byte, stages []runner.Stage) {
	t.Helper()
	sum := sha256.Sum256(ct)
	d := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
	m := manifest.Build(manifest.Input{Plan: "backup", RunID: "r", Created: created, Object: path.Base(name), StoredBytes: int64(len(ct)), Digest: &d, Upstream: stages})
	js, _ := m.Marshal()
	for _, o := range []struct {
		name string
		data []byte
	}{{name, ct}, {manifest.SidecarName(name, manifest.SHA256), manifest.Sidecar(d, name)}, {manifest.SignatureName(name), f.sign(t, js)}, {manifest.ManifestName(name), js}} {
		if err := f.b.Put(context.Background(), o.name, o.data, blob.CreateOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// sign signs manifest bytes with the fixture store's key.
func (f *verifyFixture) sign(t *testing.T, data []byte) []byte {
	t.Helper()
	d, err := keys.OpenDir(f.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Signer()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(data, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (f *verifyFixture) trust(t *testing.T) catalog.Trust {
	t.Helper()
	signers := f.signers
	if signers == "" {
		signers = f.keyDir
	}
	d, _ := keys.OpenDir(signers)
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return catalog.Trust{Verifier: v}
}

func (f *verifyFixture) backup(t *testing.T, name string, created time.Time, size int) {
	t.Helper()
	plain := make([]byte, size)
	rand.Read(plain[:size/2]) // half random, half zeros: compressible
	ct, st := f.seal(t, plain, nil)
	f.store(t, name, created, ct, st)
}

func (f *verifyFixture) verify(t *testing.T, which string, withKey bool) []catalog.VerifyResult {
	t.Helper()
	opts := catalog.VerifyOptions{Record: true, Trust: f.trust(t)}
	if withKey {
		opts.Keys = f.keys()
	}
	res, err := catalog.VerifyDest(context.Background(), f.b, which, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestVerifyBackends runs verify's behaviours against a local folder and a
// real S3 server (versitygw on 127.0.0.1).
func TestVerifyBackends(t *testing.T) {
	for _, be := range []struct {
		name string
		new  func(t *testing.T) func(t *testing.T) blob.Backend
	}{
		{"file", func(*testing.T) func(t *testing.T) blob.Backend {
			return func(t *testing.T) blob.Backend { return blob.NewFile(t.TempDir()) }
		}},
		{"s3", func(t *testing.T) func(t *testing.T) blob.Backend {
			srv := s3test.Start(t) // one server for this backend's cases
			return func(t *testing.T) blob.Backend { return srv.Backend(t, "db/") }
		}},
	} {
		t.Run(be.name, func(t *testing.T) {
			newBackend := be.new(t)
			for _, tc := range verifyCases {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, newVerifyFixture(t, newBackend(t))) })
			}
		})
	}
}

var verifyCases = []struct {
	name string
	fn   func(t *testing.T, f *verifyFixture)
}{
	{"AllContentLevel", testVerifyAll},
	{"DigestOnlyWithoutKey", testVerifyDigestOnly},
	{"CorruptedObject", testVerifyCorrupted},
	{"AuthenticationTagsChecked", testVerifyAuthTags},
	{"CompressionFrameChecked", testVerifyZstdFrame},
	{"BytesAfterTheEndRefused", testVerifyTrailingBytes},
	{"Gzip", testVerifyGzip},
	{"WrongKey", testVerifyWrongKey},
	{"PlaintextSizeChecked", testVerifyPlaintextSize},
	{"MissingObjectFails", testVerifyMissingObject},
	{"UnsignedOrForeignRefused", testVerifyUnsigned},
}

func testVerifyAll(t *testing.T, f *verifyFixture) {
	f.backup(t, "2026/11/01/app.dump.zst.age", time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), 300<<10)
	f.backup(t, "2026/11/02/app.dump.zst.age", time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC), 200<<10)
	res := f.verify(t, "all", true)
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if !r.OK || r.Level != catalog.LevelContent || !r.Sidecar || !reflect.DeepEqual(r.KeyIDs, []string{f.keyID}) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if res[0].PlaintextBytes != 300<<10 || res[1].PlaintextBytes != 200<<10 {
		t.Errorf("plaintext bytes %d, %d", res[0].PlaintextBytes, res[1].PlaintextBytes)
	}
	c, _ := catalog.Read(context.Background(), f.b, f.trust(t))
	v, ok := c.NewestVerified()
	if !ok || v.Name != "2026/11/02/app.dump.zst.age" || v.Record.Level != catalog.LevelContent {
		t.Fatalf("newest verified %+v", v)
	}
	// Nothing but the records was written next to the backups.
	infos, _ := f.b.List(context.Background(), "")
	if len(infos) != 10 {
		t.Errorf("%d files after verify, want 4 per backup + 1 record each", len(infos))
	}
	if res[0].SignedBy == "" || res[0].Signature != catalog.SignatureValid {
		t.Errorf("verify result does not say which key signed: %+v", res[0])
	}
	if rec := v.Record; rec.SignedBy != res[1].SignedBy || rec.Signature != catalog.SignatureValid {
		t.Errorf("verify record %+v does not say which key signed", rec)
	}
	out := catalog.VerifyOutputs(res)
	if out["verified"] != int64(2) || out["failed"] != int64(0) || out["content_verified"] != true {
		t.Errorf("outputs %v", out)
	}
}

func testVerifyDigestOnly(t *testing.T, f *verifyFixture) {
	f.backup(t, "a.age", time.Now(), 10<<10)
	res := f.verify(t, "latest", false)
	if r := res[0]; !r.OK || r.Level != catalog.LevelDigest || !strings.Contains(r.Note, "give a key") {
		t.Errorf("%+v", r)
	}
	if catalog.VerifyOutputs(res)["content_verified"] != false {
		t.Error("content_verified is true after a digest-only check")
	}
}

func testVerifyCorrupted(t *testing.T, f *verifyFixture) {
	f.backup(t, "good.age", time.Now().Add(-time.Hour), 10<<10)
	f.backup(t, "bad.age", time.Now(), 64<<10)
	f.verify(t, "all", true) // both get a record
	ct := readAll(t, f.b, "bad.age")
	ct[len(ct)/2] ^= 0x01
	if err := f.b.Put(context.Background(), "bad.age", ct, blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	res := f.verify(t, "all", true)
	if !res[0].OK || res[1].OK {
		t.Fatalf("good ok=%v, bad ok=%v", res[0].OK, res[1].OK)
	}
	err := catalog.VerifyError(res)
	if err == nil || !strings.Contains(err.Error(), "1 of 2") || !strings.Contains(err.Error(), f.b.URL("bad.age")) {
		t.Errorf("error %v does not name the corrupted backup", err)
	}
	t.Logf("verify error: %v", err)
	if !strings.Contains(res[1].Error, "corrupted or truncated: digest mismatch") {
		t.Errorf("error %q", res[1].Error)
	}
	c, _ := catalog.Read(context.Background(), f.b, f.trust(t))
	if v, _ := c.NewestVerified(); v == nil || v.Name != "good.age" {
		t.Errorf("the corrupted backup still counts as verified: %+v", v)
	}
}

// testVerifyAuthTags flips a ciphertext byte and records the digest of the
// damaged bytes (as if the damage happened before the checksum step): only
// age's authentication catches it.
func testVerifyAuthTags(t *testing.T, f *verifyFixture) {
	ct, st := f.seal(t, bytes.Repeat([]byte("row\n"), 20000), nil)
	ct[len(ct)-40] ^= 0x80
	f.store(t, "x.age", time.Now(), ct, st)
	r := f.verify(t, "x.age", true)[0]
	t.Logf("verify error: %s", r.Error)
	if r.OK || !strings.Contains(r.Error, "truncated or corrupted") {
		t.Errorf("%+v", r)
	}
	if r := f.verify(t, "x.age", false)[0]; !r.OK || r.Level != catalog.LevelDigest {
		t.Errorf("digest-only check should pass: %+v", r)
	}
}

// testVerifyZstdFrame encrypts a truncated zstd stream: digest and age pass,
// the compression frame does not.
func testVerifyZstdFrame(t *testing.T, f *verifyFixture) {
	plain := make([]byte, 100<<10)
	rand.Read(plain)
	ct, st := f.seal(t, plain, func(z []byte) []byte { return z[:len(z)-100] })
	f.store(t, "z.age", time.Now(), ct, st)
	r := f.verify(t, "latest", true)[0]
	if r.OK || !strings.Contains(r.Error, "compressed input is truncated or corrupted") {
		t.Errorf("%+v", r)
	}
}

// testVerifyTrailingBytes encrypts a zstd stream followed by bytes that
// are not part of it: digest and age pass, and the content check must not
// stop at the end of the last frame.
func testVerifyTrailingBytes(t *testing.T, f *verifyFixture) {
	for i, tail := range [][]byte{make([]byte, 64), []byte("appended by someone else")} {
		ct, st := f.seal(t, bytes.Repeat([]byte("row\n"), 5000), func(z []byte) []byte { return append(z, tail...) })
		name := fmt.Sprintf("t%d.age", i)
		f.store(t, name, time.Now(), ct, st)
		r := f.verify(t, name, true)[0]
		t.Logf("verify error: %s", r.Error)
		if r.OK || !(strings.Contains(r.Error, "follow the end of the stream") || strings.Contains(r.Error, "compressed input is truncated or corrupted")) {
			t.Errorf("%q after the stream: %+v", tail, r)
		}
	}
}

// testVerifyGzip: a gzip backup opens to its end; one cut short does not.
func testVerifyGzip(t *testing.T, f *verifyFixture) {
	plain := bytes.Repeat([]byte("row\n"), 30000)
	ct, st := f.sealWith(t, "gzip", plain, nil)
	f.store(t, "g.age", time.Now().Add(-time.Hour), ct, st)
	if r := f.verify(t, "g.age", true)[0]; !r.OK || r.Level != catalog.LevelContent || r.PlaintextBytes != int64(len(plain)) {
		t.Errorf("gzip backup: %+v", r)
	}
	ct, st = f.sealWith(t, "gzip", plain, func(z []byte) []byte { return z[:len(z)-20] })
	f.store(t, "cut.age", time.Now(), ct, st)
	if r := f.verify(t, "cut.age", true)[0]; r.OK || !strings.Contains(r.Error, "compressed input is truncated or corrupted: gzip") {
		t.Errorf("gzip cut short: %+v", r)
	}
}

func testVerifyWrongKey(t *testing.T, f *verifyFixture) {
	f.backup(t, "a.age", time.Now(), 1<<10)
	other := newVerifyFixture(t, f.b)
	other.signers = f.keyDir // signed by f's key, opened with other's
	r := other.verify(t, "latest", true)[0]
	if r.OK || !strings.Contains(r.Error, "no key opens this backup") || !strings.Contains(r.Error, f.keyID) {
		t.Errorf("%+v", r)
	}
}

func readAll(t *testing.T, b blob.Backend, name string) []byte {
	t.Helper()
	data, err := catalog.ReadSmall(context.Background(), b, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testVerifyPlaintextSize records a source size the content does not have.
func testVerifyPlaintextSize(t *testing.T, f *verifyFixture) {
	ct, st := f.seal(t, make([]byte, 5000), nil)
	st[0].Outputs["bytes"] = int64(5001)
	f.store(t, "p.age", time.Now(), ct, st)
	r := f.verify(t, "latest", true)[0]
	if r.OK || !strings.Contains(r.Error, "content is 5000 bytes once opened, the manifest records 5001") {
		t.Errorf("%+v", r)
	}
}

// testVerifyMissingObject: with all (or its name), a manifest whose object
// is gone is a failed backup, not a silent skip.
func testVerifyMissingObject(t *testing.T, f *verifyFixture) {
	f.backup(t, "a.age", time.Now().Add(-time.Hour), 1<<10)
	f.backup(t, "b.age", time.Now(), 1<<10)
	if err := f.b.Remove(context.Background(), "a.age"); err != nil {
		t.Fatal(err)
	}
	for _, which := range []string{"all", "a.age"} {
		res := f.verify(t, which, true)
		err := catalog.VerifyError(res)
		if err == nil || !strings.Contains(err.Error(), "a.age.manifest.json: its object") || !strings.Contains(err.Error(), "is missing") {
			t.Errorf("%s: %v", which, err)
		}
	}
	if r := f.verify(t, "latest", true); len(r) != 1 || !r[0].OK || r[0].Name != "b.age" {
		t.Errorf("latest: %+v", r)
	}
}

// testVerifyUnsigned: a backup whose signature was removed, and one signed
// by another store's key, fail verification before anything is read, with
// an error naming the backup and what was checked, and no longer count as
// backups (their old records vouch for nothing).
func testVerifyUnsigned(t *testing.T, f *verifyFixture) {
	f.backup(t, "a.age", time.Now().Add(-time.Hour), 1<<10)
	f.backup(t, "b.age", time.Now(), 1<<10)
	if r := f.verify(t, "all", true); !r[0].OK || !r[1].OK {
		t.Fatalf("genuine backups: %+v", r)
	}
	ctx := context.Background()
	f.b.Remove(ctx, manifest.SignatureName("a.age"))
	other := newVerifyFixture(t, f.b)
	raw := readAll(t, f.b, manifest.ManifestName("b.age"))
	f.b.Put(ctx, manifest.SignatureName("b.age"), other.sign(t, raw), blob.CreateOptions{Overwrite: true})
	res := f.verify(t, "all", true)
	if len(res) != 2 {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res {
		if r.OK {
			t.Errorf("%s passed verification: %+v", r.Name, r)
		}
	}
	if c, _ := catalog.Read(ctx, f.b, f.trust(t)); len(c.Backups) != 0 {
		t.Errorf("refused backups still count for retention: %d", len(c.Backups))
	}
	byName := map[string]string{res[0].Name: res[0].Error, res[1].Name: res[1].Error}
	if e := byName["a.age"]; !strings.Contains(e, "not signed") || !strings.Contains(e, "a.age.manifest.json.sig") {
		t.Errorf("unsigned: %q", e)
	}
	if e := byName["b.age"]; !strings.Contains(e, "is not by the verification keys of key store") {
		t.Errorf("foreign signature: %q", e)
	}
}
