package catalog_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/blob/s3test"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// TestLeftovers leaves a complete backup, an incomplete object with its
// sidecar, an incomplete object whose manifest appears after planning and,
// on s3://, an unfinished multipart upload of a backup and one of another
// tool's file. A dry run and a young cutoff remove nothing; the real run
// removes only the old incomplete object (with its sidecar) and aborts the
// backup's upload, never the backup nor the other tool's upload.
func TestLeftovers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		putBackup(t, b, "a.dump", time.Now().Add(-time.Hour))
		put(t, b, "b.dump.age", []byte("half a backup"))
		put(t, b, manifest.SidecarName("b.dump.age", manifest.SHA256), []byte("sum"))
		put(t, b, "d.dump.age", []byte("being written"))
		s3b, isS3 := b.(*blob.S3)
		if isS3 {
			core := minio.Core{Client: s3test.Shared(t).Client(t)}
			for _, name := range []string{"c.dump.age", "other-tool/video.mp4"} {
				if _, err := core.NewMultipartUpload(ctx, s3b.Bucket(), s3b.Prefix()+name, minio.PutObjectOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		before := listAll(t, b)
		c, err := catalog.Read(ctx, b, trust)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().Add(time.Minute)

		young, err := catalog.PlanLeftovers(ctx, b, c, 24*time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		if o, u := young.ToRemove(); o != 0 || u != 0 {
			t.Fatalf("with a 24h cutoff: %d objects and %d uploads to remove, want none", o, u)
		}

		res, err := catalog.PlanLeftovers(ctx, b, c, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		wantUploads := 0
		if isS3 {
			wantUploads = 1
		}
		if o, u := res.ToRemove(); o != 2 || u != wantUploads {
			t.Fatalf("to remove: %d objects and %d uploads, want 2 and %d (%+v)", o, u, wantUploads, res)
		}
		if got := listAll(t, b); !slices.Equal(got, before) {
			t.Fatalf("planning changed the destination: %q, want %q", got, before)
		}

		put(t, b, manifest.ManifestName("d.dump.age"), []byte("{}")) // d.dump.age completed meanwhile
		if err := catalog.RemoveLeftovers(ctx, b, res); err != nil {
			t.Fatal(err)
		}
		want := []string{"a.dump", manifest.ManifestName("a.dump"), manifest.SignatureName("a.dump"), manifest.SidecarName("a.dump", manifest.SHA256), "d.dump.age", manifest.ManifestName("d.dump.age")}
		slices.Sort(want)
		if got := listAll(t, b); !slices.Equal(got, want) {
			t.Fatalf("after removing leftovers: %q, want %q", got, want)
		}
		for _, o := range res.Objects {
			if o.Name == "d.dump.age" && (o.Removed || o.Note == "") {
				t.Errorf("d.dump.age, complete by then: %+v, want skipped with a note", o)
			}
		}
		if isS3 {
			// Another tool's upload in a shared bucket is not sluice's.
			ups, err := s3b.ListUploads(ctx, "")
			if err != nil || len(ups) != 1 || ups[0].Name != "other-tool/video.mp4" {
				t.Fatalf("unfinished uploads after the cleanup: %+v, %v; want only other-tool/video.mp4", ups, err)
			}
			if !res.Uploads[0].Aborted || res.Uploads[0].Name != "c.dump.age" {
				t.Errorf("upload result %+v, want c.dump.age aborted", res.Uploads[0])
			}
		}
	})
}

// TestLeftoversPendingFiles leaves two pending files on file:// the way a
// SIGKILLed run does (Create and Write, then neither Commit nor Abort): one
// last written two days ago, one just now. Both are unfinished uploads; a
// 24h cutoff removes the old one only, whatever else is in the folder.
func TestLeftoversPendingFiles(t *testing.T) {
	root := t.TempDir()
	b := blob.NewFile(root)
	putBackup(t, b, "a.age", time.Now().Add(-72*time.Hour))
	killed := func(name string) string {
		w, err := b.Create(ctx, name, blob.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("half a backup")); err != nil {
			t.Fatal(err)
		}
		ups, err := catalog.Unfinished(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups {
			if u.Name == name {
				return u.ID
			}
		}
		t.Fatalf("unfinished uploads %+v do not include %s", ups, name)
		return ""
	}
	old := killed("2026/old.age")
	fresh := killed("2026/fresh.age")
	twoDaysAgo := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(old)), twoDaysAgo, twoDaysAgo); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Incomplete) != 0 || len(c.Backups) != 1 {
		t.Fatalf("pending files counted as objects: %+v", c)
	}
	res, err := catalog.PlanLeftovers(ctx, b, c, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 2 {
		t.Fatalf("uploads %+v, want the two pending files", res.Uploads)
	}
	if err := catalog.RemoveLeftovers(ctx, b, res); err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Uploads {
		if want := u.ID == old; u.Aborted != want {
			t.Errorf("pending file %s: aborted %v, want %v", u.ID, u.Aborted, want)
		}
	}
	var left []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{fresh, "a.age", "a.age.manifest.json", "a.age.manifest.json.sig", "a.age.sha256"}
	if !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}

// TestPruneIncompleteSparesForeignFiles: a destination folder is often
// shared with other files. prune --incomplete removes what sluice wrote and
// nothing else: a user's notes, a photo and another tool's dump (with its
// sha256sum file) survive a confirmed run at any age, while sluice's own
// leftovers go: an encrypted object without manifest, the sidecar and
// verify record a prune left when it stopped after removing the object, and
// a plaintext object that a verify record marks as sluice's.
func TestPruneIncompleteSparesForeignFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		putBackup(t, b, "a.age", time.Now().Add(-time.Hour))
		foreign := []string{"notes.txt", "photos/photo.jpg", "x.dump", "x.dump.sha256", "stray.sha256"}
		for _, n := range foreign {
			put(t, b, n, []byte("the user's "+n))
		}
		ours := []string{"b.dump.zst.age", "b.dump.zst.age.sha256", "c.age.sha256", "c.age.verified.json", "e.bin", "e.bin.sha256", "e.bin.verified.json"}
		for _, n := range ours {
			put(t, b, n, []byte("sluice's "+n))
		}
		c, err := catalog.Read(ctx, b, trust)
		if err != nil {
			t.Fatal(err)
		}
		res, err := catalog.PlanLeftovers(ctx, b, c, 0, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := catalog.RemoveLeftovers(ctx, b, res); err != nil {
			t.Fatal(err)
		}
		want := append([]string{"a.age", "a.age.manifest.json", "a.age.manifest.json.sig", "a.age.sha256"}, foreign...)
		slices.Sort(want)
		if got := listAll(t, b); !slices.Equal(got, want) {
			t.Errorf("after prune --incomplete at any age: %q, want %q (foreign files kept, sluice's leftovers gone)", got, want)
		}
		var other []string
		for _, o := range c.Other {
			other = append(other, o.Name)
		}
		slices.Sort(foreign)
		if !slices.Equal(other, foreign) {
			t.Errorf("catalogue's other files %q, want %q", other, foreign)
		}
	})
}

// TestLeftoversDest: a dry run removes nothing and its outputs list the
// leftover; with confirm it goes, the complete backup stays.
func TestLeftoversDest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		putBackup(t, b, "a.age", time.Now().Add(-time.Hour))
		put(t, b, "b.age", []byte("half a backup"))
		res, err := catalog.LeftoversDest(ctx, b, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		out := res.Outputs()
		objs, _ := out["incomplete"].([]any)
		if out["dry_run"] != true || out["to_delete"] != int64(1) || out["deleted"] != int64(0) || len(objs) != 1 || objs[0].(map[string]any)["name"] != "b.age" {
			t.Errorf("dry run outputs %v", out)
		}
		if _, err := b.Stat(ctx, "b.age"); err != nil {
			t.Fatalf("a dry run removed the leftover: %v", err)
		}
		if res, err = catalog.LeftoversDest(ctx, b, 0, true); err != nil {
			t.Fatal(err)
		}
		if out := res.Outputs(); out["deleted"] != int64(1) {
			t.Errorf("outputs %v", out)
		}
		if got := listAll(t, b); !slices.Equal(got, []string{"a.age", "a.age.manifest.json", "a.age.manifest.json.sig", "a.age.sha256"}) {
			t.Errorf("left %q", got)
		}
	})
}
