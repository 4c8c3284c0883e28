package catalog_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// backends are the storages every catalogue behaviour runs against: a
// local folder and a real S3 server (versitygw) on 127.0.0.1.
var backends = []struct {
	name string
	new  func(t *testing.T) blob.Backend
}{
	{"file", func(t *testing.T) blob.Backend { return blob.NewFile(t.TempDir()) }},
	{"s3", func(t *testing.T) blob.Backend { return s3test.Shared(t).Backend(t, "backups/") }},
}

// forEachBackend runs fn against each backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b blob.Backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { fn(t, be.new(t)) })
	}
}

var ctx = context.Background()

// putBackup stores a backup of database app by plan nightly as upload
// does: object, sidecar, then manifest.
func putBackup(t *testing.T, b blob.Backend, name string, created time.Time) {
	t.Helper()
	putBackupOf(t, b, name, created, "app")
}

// putBackupOf stores a backup of database db by plan nightly.
func putBackupOf(t *testing.T, b blob.Backend, name string, created time.Time, db string) {
	t.Helper()
	data := []byte("backup " + name)
	sum := sha256.Sum256(data)
	d := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
	put(t, b, name, data)
	put(t, b, manifest.SidecarName(name, manifest.SHA256), manifest.Sidecar(d, name))
	m := manifest.Build(manifest.Input{
		Plan: "nightly", RunID: "r-" + name, Created: created, Object: name[strings.LastIndex(name, "/")+1:], StoredBytes: int64(len(data)), Digest: &d,
		Upstream: []runner.Stage{
			{ID: "dump", Type: "dump", Outputs: runner.Outputs{"bytes": int64(100), "database": db}},
			{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{"k-0123456789abcdef"}}},
		},
	})
	js, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	putManifest(t, b, name, js)
}

// putManifest stores a manifest signed by the test key, signature first, as
// upload does.
func putManifest(t *testing.T, b blob.Backend, object string, data []byte) {
	t.Helper()
	sig, err := signer.Sign(data, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	put(t, b, manifest.SignatureName(object), sig)
	put(t, b, manifest.ManifestName(object), data)
}

// signer is the test's signing key; trust checks against it.
var signer, trust = newTestKey("s-test")

func newTestKey(id string) (*signing.Signer, catalog.Trust) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	ss, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		panic(err)
	}
	s, err := signing.NewSigner(id, ss)
	if err != nil {
		panic(err)
	}
	return s, catalog.Trust{Verifier: signing.NewVerifier("the test key", []signing.Key{s.Key()})}
}

func put(t *testing.T, b blob.Backend, name string, data []byte) {
	t.Helper()
	if err := b.Put(ctx, name, data, blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
}

func day(d int) time.Time { return time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC) }

func names(bs []catalog.Backup) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

func listAll(t *testing.T, b blob.Backend) []string {
	t.Helper()
	infos, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Name)
	}
	return out
}

func TestCatalogRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		putBackup(t, b, "2026/11/03/app.dump.zst.age", day(3))
		putBackup(t, b, "2026/11/01/app.dump.zst.age", day(1))
		putBackup(t, b, "2026/11/02/app.dump.zst.age", day(2))
		put(t, b, "2026/11/04/app.dump.zst.age", []byte("no manifest yet"))
		put(t, b, "2026/11/04/app.dump.zst.age.sha256", []byte("x"))
		put(t, b, "stray.sha256", []byte("x")) // a sidecar of nothing is not an object
		putManifest(t, b, "gone.age", must(manifestFor(t, "gone.age")))
		put(t, b, "bad.age", []byte("x"))
		putManifest(t, b, "bad.age", []byte("{not json"))

		c, err := catalog.Read(ctx, b, trust)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"2026/11/01/app.dump.zst.age", "2026/11/02/app.dump.zst.age", "2026/11/03/app.dump.zst.age"}
		if got := names(c.Backups); !reflect.DeepEqual(got, want) {
			t.Errorf("backups %q, want %q (oldest first)", got, want)
		}
		bk := c.Backups[0]
		if !reflect.DeepEqual(bk.KeyIDs, []string{"k-0123456789abcdef"}) || bk.Summary.Database != "app" || bk.Object.Size == 0 {
			t.Errorf("backup %+v: key ids, database or size missing", bk)
		}
		if !reflect.DeepEqual(bk.Related, []string{"2026/11/01/app.dump.zst.age.manifest.json.sig", "2026/11/01/app.dump.zst.age.sha256"}) {
			t.Errorf("related %q, want the signature and the sidecar", bk.Related)
		}
		if bk.Signature != (catalog.Signature{State: catalog.SignatureValid, KeyID: "s-test"}) {
			t.Errorf("signature %+v, want signed by s-test", bk.Signature)
		}
		var inc []string
		for _, in := range c.Incomplete {
			inc = append(inc, in.Name)
		}
		if !reflect.DeepEqual(inc, []string{"2026/11/04/app.dump.zst.age"}) {
			t.Errorf("incomplete %q, want the object without manifest only (no sidecars, no manifests, no bad.age: its manifest is a problem)", inc)
		}
		kinds := map[string]string{}
		for _, p := range c.Problems {
			kinds[p.Manifest] = p.Kind
		}
		if kinds["gone.age.manifest.json"] != catalog.ProblemObjectMissing || kinds["bad.age.manifest.json"] != catalog.ProblemUnreadable {
			t.Errorf("problems %+v", c.Problems)
		}
		if l, _ := c.Latest(); l.Name != want[2] {
			t.Errorf("latest %s", l.Name)
		}
	})
}

func manifestFor(t *testing.T, object string) ([]byte, error) {
	m := manifest.Build(manifest.Input{Plan: "p", RunID: "r", Created: day(1), Object: object})
	return m.Marshal()
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestVerifyRecordMarksVerified(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		putBackup(t, b, "a.age", day(1))
		putBackup(t, b, "b.age", day(2))
		c, _ := catalog.Read(ctx, b, trust)
		a, _ := c.Find("a.age")
		if err := catalog.WriteRecord(ctx, b, "a.age", catalog.Record{Digest: a.Summary.Digest.String(), Level: catalog.LevelContent, Verified: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// A record whose digest is not the manifest's (the object was rewritten
		// since) does not count.
		if err := catalog.WriteRecord(ctx, b, "b.age", catalog.Record{Digest: "sha256:" + strings.Repeat("0", 64), Level: catalog.LevelContent}); err != nil {
			t.Fatal(err)
		}
		c, _ = catalog.Read(ctx, b, trust)
		v, ok := c.NewestVerified()
		if !ok || v.Name != "a.age" {
			t.Fatalf("newest verified = %v, want a.age (b.age's record is stale)", v)
		}
		if !slices.Contains(v.Related, "a.age.verified.json") {
			t.Errorf("the record is not among a.age's files: %q", v.Related)
		}
		if len(c.Incomplete) != 0 {
			t.Errorf("records listed as incomplete: %+v", c.Incomplete)
		}
	})
}

func TestPruneRemovesWholeBackupsAndKeepsNewestVerified(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		for d := 1; d <= 5; d++ {
			putBackup(t, b, fmt.Sprintf("d%d.age", d), day(d))
		}
		// d2 is the newest verified backup: keep_last 1 keeps d5, and d2 stays.
		c, _ := catalog.Read(ctx, b, trust)
		d2, _ := c.Find("d2.age")
		if err := catalog.WriteRecord(ctx, b, "d2.age", catalog.Record{Digest: d2.Summary.Digest.String(), Level: catalog.LevelDigest}); err != nil {
			t.Fatal(err)
		}
		c, _ = catalog.Read(ctx, b, trust)
		res, err := catalog.PlanPrune(c, catalog.Policy{Last: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Protected) != 1 || res.Protected[0].Name != "d2.age" || res.ToDelete() != 3 {
			t.Fatalf("protected %v, to delete %d; want d2.age and 3", res.Protected, res.ToDelete())
		}
		before := listAll(t, b)
		if len(before) != 21 {
			t.Fatalf("fixture has %d files: %q", len(before), before)
		}
		if err := catalog.Prune(ctx, b, res); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Deleted, []string{"d1.age", "d3.age", "d4.age"}) {
			t.Errorf("deleted %q, want oldest first d1 d3 d4", res.Deleted)
		}
		want := []string{"d2.age", "d2.age.manifest.json", "d2.age.manifest.json.sig", "d2.age.sha256", "d2.age.verified.json", "d5.age", "d5.age.manifest.json", "d5.age.manifest.json.sig", "d5.age.sha256"}
		if got := listAll(t, b); !reflect.DeepEqual(got, want) {
			t.Errorf("left %q, want %q", got, want)
		}
	})
}

// failingRemove fails Remove of one name, as a crash or a lost connection
// would stop a prune there.
type failingRemove struct {
	blob.Backend
	name    string
	removed []string
}

func (f *failingRemove) Remove(ctx context.Context, name string) error {
	if name == f.name {
		return errors.New("injected failure")
	}
	f.removed = append(f.removed, name)
	return f.Backend.Remove(ctx, name)
}

func TestPruneInterruptedLeavesConsistentCatalog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		for d := 1; d <= 4; d++ {
			putBackup(t, b, fmt.Sprintf("d%d.age", d), day(d))
		}
		c, _ := catalog.Read(ctx, b, trust)
		res, err := catalog.PlanPrune(c, catalog.Policy{Last: 1})
		if err != nil {
			t.Fatal(err)
		}
		// Stop right after the second backup's manifest is removed.
		fb := &failingRemove{Backend: b, name: "d2.age"}
		err = catalog.Prune(ctx, fb, res)
		if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "d2.age") {
			t.Fatalf("prune error %v, want the injected failure naming d2.age", err)
		}
		wantOrder := []string{"d1.age.manifest.json", "d1.age", "d1.age.manifest.json.sig", "d1.age.sha256", "d2.age.manifest.json"}
		if !reflect.DeepEqual(fb.removed, wantOrder) {
			t.Errorf("removed %q, want manifest first: %q", fb.removed, wantOrder)
		}
		c, err = catalog.Read(ctx, b, trust)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Problems) != 0 {
			t.Errorf("a manifest points at nothing after the interrupted prune: %+v", c.Problems)
		}
		if got := names(c.Backups); !reflect.DeepEqual(got, []string{"d3.age", "d4.age"}) {
			t.Errorf("backups %q", got)
		}
		if len(c.Incomplete) != 1 || c.Incomplete[0].Name != "d2.age" || !reflect.DeepEqual(c.Incomplete[0].Related, []string{"d2.age.manifest.json.sig", "d2.age.sha256"}) {
			t.Errorf("incomplete %+v, want d2.age with its sidecar", c.Incomplete)
		}
		// A rerun finishes the job for the complete backups left.
		res, _ = catalog.PlanPrune(c, catalog.Policy{Last: 1})
		if err := catalog.Prune(ctx, b, res); err != nil || !reflect.DeepEqual(res.Deleted, []string{"d3.age"}) {
			t.Errorf("rerun deleted %q: %v", res.Deleted, err)
		}
	})
}

func TestPruneEmptyDestination(t *testing.T) {
	c, err := catalog.Read(ctx, blob.NewFile(t.TempDir()), trust)
	if err != nil {
		t.Fatal(err)
	}
	res, err := catalog.PlanPrune(c, catalog.Policy{Last: 1})
	if err != nil || len(res.Protected) != 0 || len(res.Decisions) != 0 {
		t.Errorf("empty destination: %+v, %v", res, err)
	}
	if _, err := catalog.PlanPrune(c, catalog.Policy{}); err == nil {
		t.Error("an empty policy was accepted")
	}
}

// TestPruneDestDryRunThenConfirm: without confirm nothing is deleted and
// the outputs say what would be; with it, exactly that goes.
func TestPruneDestDryRunThenConfirm(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		for d := 1; d <= 3; d++ {
			putBackup(t, b, fmt.Sprintf("d%d.age", d), day(d))
		}
		before := listAll(t, b)
		res, err := catalog.PruneDest(ctx, b, catalog.Policy{Last: 1}, false, trust)
		if err != nil {
			t.Fatal(err)
		}
		out := res.Outputs()
		if out["dry_run"] != true || out["to_delete"] != int64(2) || out["deleted"] != int64(0) || out["protected"] != "d3.age" {
			t.Errorf("dry run outputs %v", out)
		}
		if got := listAll(t, b); !reflect.DeepEqual(got, before) {
			t.Fatalf("a dry run changed the destination: %q", got)
		}
		res, err = catalog.PruneDest(ctx, b, catalog.Policy{Last: 1}, true, trust)
		if err != nil {
			t.Fatal(err)
		}
		if out := res.Outputs(); out["dry_run"] != false || out["deleted"] != int64(2) {
			t.Errorf("outputs %v", out)
		}
		c, _ := catalog.Read(ctx, b, trust)
		if got := names(c.Backups); !reflect.DeepEqual(got, []string{"d3.age"}) {
			t.Errorf("left %q, want d3.age", got)
		}
	})
}

// TestPruneKeepsEachSeries: two databases backed up into one destination
// (a fleet; plans/backup.yaml's default folder), shop at 03:00 and crm a
// minute later each day. keep_daily 7 keeps every backup of both: the
// policy applies to each database's backups apart, and each has its own
// protected newest backup. As one series, crm's later backups took every
// day and all of shop's were deleted.
func TestPruneKeepsEachSeries(t *testing.T) {
	b := blob.NewFile(t.TempDir())
	for d := 1; d <= 3; d++ {
		putBackupOf(t, b, fmt.Sprintf("shop-%d.age", d), day(d), "shop")
		putBackupOf(t, b, fmt.Sprintf("crm-%d.age", d), day(d).Add(time.Minute), "crm")
	}
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		t.Fatal(err)
	}
	res, err := catalog.PlanPrune(c, catalog.Policy{Daily: 7})
	if err != nil {
		t.Fatal(err)
	}
	if res.ToDelete() != 0 {
		t.Errorf("keep_daily 7 deletes %d of 6 backups of two databases over 3 days", res.ToDelete())
	}
	res, err = catalog.PlanPrune(c, catalog.Policy{Last: 1})
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, d := range res.Decisions {
		if d.Keep {
			kept = append(kept, d.Backup.Name)
		}
	}
	if !reflect.DeepEqual(kept, []string{"crm-3.age", "shop-3.age"}) || len(res.Protected) != 2 {
		t.Errorf("keep_last 1 keeps %q (protected %d); want the newest of each database", kept, len(res.Protected))
	}
	if got := res.Outputs()["protected"]; got != "crm-3.age,shop-3.age" {
		t.Errorf("protected output %q", got)
	}
}

// TestCopiedManifestsAreNotBackups plays someone who can write the
// destination but holds no key: they copy genuine manifests and their
// signatures into another folder, next to junk objects of the same names.
// The signature names the object, not its folder, so each copy passes the
// gate; counted, the copies (greater names, same times) took their
// backups' days and keep_daily deleted every genuine backup. Now neither
// copy of a backup is a backup: both are problems, nothing is deleted, and
// the newest backup cannot be picked while they are there.
func TestCopiedManifestsAreNotBackups(t *testing.T) {
	b := blob.NewFile(t.TempDir())
	for d := 1; d <= 3; d++ {
		name := fmt.Sprintf("d%d.age", d)
		putBackup(t, b, name, day(d))
		put(t, b, "zz/"+name, []byte("junk"))
		for _, f := range []string{manifest.ManifestName(name), manifest.SignatureName(name)} {
			put(t, b, "zz/"+f, readAll(t, b, f))
		}
	}
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, p := range c.Problems {
		if p.Kind == catalog.ProblemCopied {
			copied++
		}
	}
	if len(c.Backups) != 0 || copied != 6 {
		t.Fatalf("%d backups, %d copied problems (%+v); want none and 6", len(c.Backups), copied, c.Problems)
	}
	res, err := catalog.PruneDest(ctx, b, catalog.Policy{Daily: 7}, true, trust)
	if err != nil || len(res.Deleted) != 0 {
		t.Fatalf("prune deleted %q, %v", res.Deleted, err)
	}
	for d := 1; d <= 3; d++ {
		if _, err := b.Stat(ctx, fmt.Sprintf("d%d.age", d)); err != nil {
			t.Errorf("genuine backup d%d: %v", d, err)
		}
	}
	if _, _, err := catalog.Newest(ctx, b, trust, catalog.Series{}); err == nil || !strings.Contains(err.Error(), "described by 2 manifests") {
		t.Errorf("newest backup with copies around: %v", err)
	}
}

// TestNewestOfOneSeries: a folder with backups of two databases (a fleet's
// shared destination, or another database's backup copied in by someone
// who can write it) gives no newest backup until the reader says which
// database: the newest of all might restore the wrong data, and a drill
// would prove nothing about the database it is for.
func TestNewestOfOneSeries(t *testing.T) {
	b := blob.NewFile(t.TempDir())
	putBackupOf(t, b, "shop-1.age", day(1), "shop")
	putBackupOf(t, b, "x/crm-2.age", day(2), "crm")
	if _, _, err := catalog.Newest(ctx, b, trust, catalog.Series{}); err == nil || !strings.Contains(err.Error(), `database "shop", database "crm"`) && !strings.Contains(err.Error(), `database "crm", database "shop"`) {
		t.Errorf("newest of two databases: %v; want an error naming both", err)
	}
	bk, _, err := catalog.Newest(ctx, b, trust, catalog.Series{Database: "shop"})
	if err != nil || bk.Name != "shop-1.age" {
		t.Errorf("newest of shop: %v, %v", bk, err)
	}
	if _, _, err := catalog.Newest(ctx, b, trust, catalog.Series{Database: "nope"}); err == nil || !strings.Contains(err.Error(), `no backup of database "nope"`) {
		t.Errorf("newest of a database with no backup: %v", err)
	}
}
