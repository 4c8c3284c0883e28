package blob_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/blobtest"
)

func TestFileConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		New: func(t *testing.T) blob.Backend {
			// A root that does not exist yet: Create must make it.
			root := filepath.Join(t.TempDir(), "store")
			t.Cleanup(func() { assertNoTempFiles(t, filepath.Dir(root)) })
			return blob.NewFile(root)
		},
		ReadOnly: readOnlyFile,
	})
}

// readOnlyFile returns a backend over a folder nobody may write. Mode 0555
// does not stop root, so as root the folder is also made immutable.
func readOnlyFile(t *testing.T) blob.Backend {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			testenv.SkipUnlessCI(t, "running as root and cannot make %s immutable (chattr +i: %v: %s): no way to test a read-only folder", dir, err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	}
	return blob.NewFile(dir)
}

// assertNoTempFiles fails when a pending file was left anywhere under dir.
func assertNoTempFiles(t *testing.T, dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".sluice-tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestOpenURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url, wantURL, wantName string
	}{
		{"file:///srv/backups/app.dump", "file:///srv/backups/app.dump", "app.dump"},
		{"file://./backups/day/app.age", "file://" + wd + "/backups/day/app.age", "app.age"},
		{"file://backups/app.age", "file://" + wd + "/backups/app.age", "app.age"},
		{"backups/app.age", "file://" + wd + "/backups/app.age", "app.age"},
		{"/tmp/x.age", "file:///tmp/x.age", "x.age"},
	}
	for _, tc := range tests {
		b, name, err := blob.Open(tc.url)
		if err != nil {
			t.Errorf("Open(%q): %v", tc.url, err)
			continue
		}
		if name != tc.wantName || b.URL(name) != tc.wantURL {
			t.Errorf("Open(%q) = %q at %q, want %q at %q", tc.url, name, b.URL(name), tc.wantName, tc.wantURL)
		}
	}
}

func TestOpenURLErrors(t *testing.T) {
	for url, want := range map[string]string{
		"":                 "storage URL is empty",
		"s3://bucket/":     "names a folder, not an object",
		"ftp://host/x":     `unknown scheme "ftp"`,
		"file://":          "has no path",
		"file:///backups/": "names a folder, not an object",
	} {
		_, _, err := blob.Open(url)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) error = %v, want it to contain %q", url, err, want)
		}
	}
}

func TestFileMissingFolderMessage(t *testing.T) {
	b := blob.NewFile(filepath.Join(t.TempDir(), "nowhere"))
	_, err := b.Open(context.Background(), "x.age")
	if err == nil || !strings.Contains(err.Error(), "does not exist either") {
		t.Fatalf("Open error = %v, want it to say the folder is missing", err)
	}
}

func TestFileDestinationIsAFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := blob.NewFile(filepath.Join(dir, "file"))
	_, err := b.Create(context.Background(), "x", blob.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "creating destination folder") {
		t.Fatalf("Create error = %v, want a destination folder error", err)
	}
}

// TestFileAbortUploadRemovesOnlyPendingFiles: AbortUpload is how a cleanup
// removes a killed run's pending file; given anything but a pending file of
// the named object (an object, a file elsewhere, a path out of the root) it
// refuses and removes nothing.
func TestFileAbortUploadRemovesOnlyPendingFiles(t *testing.T) {
	root := t.TempDir()
	b := blob.NewFile(filepath.Join(root, "store"))
	ctx := context.Background()
	for _, n := range []string{"notes.txt", "d/a.age"} {
		if err := b.Put(ctx, n, []byte("keep me"), blob.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".x.sluice-tmp-1"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := b.Create(ctx, "d/b.age", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("pending")); err != nil {
		t.Fatal(err)
	}
	ups, err := b.ListUploads(ctx, "")
	if err != nil || len(ups) != 1 || ups[0].Name != "d/b.age" || !strings.HasPrefix(ups[0].ID, "d/.b.age.sluice-tmp-") {
		t.Fatalf("ListUploads = %+v, %v; want the pending file of d/b.age", ups, err)
	}
	for _, u := range []blob.Upload{
		{Name: "notes.txt", ID: "notes.txt"},
		{Name: "d/a.age", ID: "d/a.age"},
		{Name: "d/a.age", ID: ups[0].ID},
		{Name: "x", ID: "../.x.sluice-tmp-1"},
		{Name: "../x", ID: "../.x.sluice-tmp-1"},
	} {
		if err := b.AbortUpload(ctx, u); err == nil {
			t.Errorf("AbortUpload(%+v) succeeded, want a refusal", u)
		}
	}
	if err := b.AbortUpload(ctx, ups[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.AbortUpload(ctx, ups[0]); err != nil {
		t.Errorf("aborting a pending file already gone: %v", err)
	}
	if ups, _ := b.ListUploads(ctx, ""); len(ups) != 0 {
		t.Errorf("after AbortUpload: %+v", ups)
	}
	for _, p := range []string{"store/notes.txt", "store/d/a.age", ".x.sluice-tmp-1"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	w.Abort()
}
