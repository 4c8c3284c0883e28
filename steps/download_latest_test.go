package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// storeBackup uploads data to root/name as an encrypted-looking backup whose
// manifest records keyID and the created time t.
func storeBackup(t *testing.T, root, name string, data []byte, keyID string, created time.Time) {
	t.Helper()
	to := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	_, p := consume(t, &Upload{To: to}, data)
	up := stream(t, data, "sha256")
	enc := runner.Stage{ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{keyID}, "recipients": []any{"age1example"}}}
	up = []runner.Stage{up[0], enc, up[1]}
	if _, err := p.Commit(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	// Commit stamps the current time; rewrite it to order the backups.
	mpath := to + ".manifest.json"
	raw, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	m.Created = created
	raw, err = m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mpath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	signManifestFile(t, to)
}

func downloadLatest(from string) ([]byte, runner.Outputs, error) {
	var buf bytes.Buffer
	out, err := (&Download{From: from, Latest: true}).Produce(context.Background(), testStepContext("download"), &buf)
	return buf.Bytes(), out, err
}

func TestDownloadLatestPicksNewestManifest(t *testing.T) {
	root := t.TempDir()
	day := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	// Name order and creation order differ on purpose.
	storeBackup(t, root, "2026-03-01/app-b.dump.zst.age", []byte("old"), "k-old", day)
	storeBackup(t, root, "2026-03-01/app-a.dump.zst.age", []byte("newest"), "k-new", day.Add(2*time.Hour))
	storeBackup(t, root, "2026-02-28/app-z.dump.zst.age", []byte("older"), "k-old", day.Add(-time.Hour))
	// Incomplete: newer, but no manifest; and a pending object.
	if err := os.WriteFile(filepath.Join(root, "2026-03-01", "app-c.dump.zst.age"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "2026-03-01", ".app-d.dump.zst.age.sluice-tmp-1"), []byte("pending"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A manifest whose object was deleted, the newest of all.
	storeBackup(t, root, "2026-03-02/gone.dump.zst.age", []byte("gone"), "k-gone", day.Add(24*time.Hour))
	if err := os.Remove(filepath.Join(root, "2026-03-02", "gone.dump.zst.age")); err != nil {
		t.Fatal(err)
	}

	for _, from := range []string{root, "file://" + root, "file://" + root + "/"} {
		got, out, err := downloadLatest(from)
		if err != nil {
			t.Fatalf("from %s: %v", from, err)
		}
		if string(got) != "newest" {
			t.Fatalf("from %s: read %q, want the newest backup", from, got)
		}
		want := runner.Outputs{
			"object":   "2026-03-01/app-a.dump.zst.age",
			"url":      "file://" + root + "/2026-03-01/app-a.dump.zst.age",
			"key_ids":  []any{"k-new"},
			"created":  "2026-03-01T04:00:00Z",
			"verified": true,
		}
		for k, v := range want {
			if !reflect.DeepEqual(out[k], v) {
				t.Errorf("from %s: output %s = %#v, want %#v", from, k, out[k], v)
			}
		}
	}
}

func TestDownloadLatestErrors(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		root := t.TempDir()
		_, _, err := downloadLatest(root)
		if err == nil || !strings.Contains(err.Error(), "no complete backup under file://"+root) {
			t.Fatalf("error = %v, want no complete backup", err)
		}
	})
	t.Run("only incomplete", func(t *testing.T) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "app.dump.zst.age"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := downloadLatest(filepath.Join(root, "missing-folder"))
		if err == nil || !strings.Contains(err.Error(), "no complete backup") {
			t.Fatalf("error = %v, want no complete backup", err)
		}
		_, _, err = downloadLatest(root)
		if err == nil || !strings.Contains(err.Error(), "no complete backup") {
			t.Fatalf("error = %v, want no complete backup", err)
		}
	})
	t.Run("unreadable manifest", func(t *testing.T) {
		root := t.TempDir()
		storeBackup(t, root, "a.age", []byte("a"), "k", time.Now())
		if err := os.WriteFile(filepath.Join(root, "b.age.manifest.json"), []byte("{not json"), 0o644); err != nil {
			t.Fatal(err)
		}
		signManifestFile(t, filepath.Join(root, "b.age"))
		_, _, err := downloadLatest(root)
		if err == nil || !strings.Contains(err.Error(), "b.age.manifest.json") || !strings.Contains(err.Error(), "repair or remove it") {
			t.Fatalf("error = %v, want the bad manifest named", err)
		}
	})
	t.Run("newest corrupted", func(t *testing.T) {
		root := t.TempDir()
		storeBackup(t, root, "a.age", []byte("older backup"), "k", time.Now().Add(-time.Hour))
		storeBackup(t, root, "b.age", []byte("newer backup"), "k", time.Now())
		if err := os.WriteFile(filepath.Join(root, "b.age"), []byte("newer backuq"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := downloadLatest(root)
		if err == nil || !strings.Contains(err.Error(), "b.age is corrupted or truncated") {
			t.Fatalf("error = %v, want the newest backup reported corrupted (not an older one read)", err)
		}
	})
}

func TestDownloadValidateLatest(t *testing.T) {
	dir := t.TempDir() + "/"
	if err := (&Download{From: dir, Latest: true}).Validate(); err != nil {
		t.Fatalf("latest with a folder: %v", err)
	}
	if err := (&Download{From: dir}).Validate(); err == nil || !strings.Contains(err.Error(), "names a folder") {
		t.Fatalf("folder without latest: error = %v, want names a folder", err)
	}
	if err := (&Download{From: "ftp://host/x", Latest: true}).Validate(); err == nil {
		t.Fatal("unknown scheme: no error")
	}
}

func TestDownloadKeyIDsOutput(t *testing.T) {
	root := t.TempDir()
	storeBackup(t, root, "one.age", []byte("data"), "abc123", time.Now())
	_, out, err := download(filepath.Join(root, "one.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out["key_ids"], []any{"abc123"}) || out["object"] != "one.age" {
		t.Fatalf("outputs = %v, want key_ids [abc123] and object one.age", out)
	}
}
