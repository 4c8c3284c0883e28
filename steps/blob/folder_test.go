package blob

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestFolderURL(t *testing.T) {
	t.Chdir(t.TempDir())
	wd, _ := filepath.Abs(".")
	wd = filepath.ToSlash(wd)
	for _, tc := range []struct{ in, want string }{
		{"file://./backups", "file://" + wd + "/backups"},
		{"./backups/", "file://" + wd + "/backups"},
		{"backups", "file://" + wd + "/backups"},
		{"file://backups/../backups/app", "file://" + wd + "/backups/app"},
		{"file:///var/backups/app/", "file:///var/backups/app"},
		{"/var/backups/app", "file:///var/backups/app"},
		{"s3://bucket/app/", "s3://bucket/app"},
		{"s3://bucket//app/daily?region=eu-west-1", "s3://bucket/app/daily"},
		{"s3://bucket", "s3://bucket"},
		{"S3://bucket/", "s3://bucket"},
	} {
		got, err := FolderURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("FolderURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "s3://key:secret@bucket/app", "s3:///app", "ftp://host/x"} {
		if got, err := FolderURL(bad); err == nil {
			t.Errorf("FolderURL(%q) = %q, want an error", bad, got)
		} else if bad == "s3://key:secret@bucket/app" && strings.Contains(err.Error(), "secret") {
			t.Errorf("FolderURL echoes the credential: %v", err)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		inner, outer string
		want         bool
	}{
		{"file:///b", "file:///b", true},
		{"file:///b/2024-01-01", "file:///b", true},
		{"file:///backups", "file:///b", false},
		{"file:///b", "file:///b/2024-01-01", false},
		{"file:///b", "file:///", true},
		{"s3://bucket/app", "s3://bucket", true},
		{"s3://bucket2/app", "s3://bucket", false},
		{"s3://bucket/app", "file:///bucket/app", false},
	} {
		if got := Within(tc.inner, tc.outer); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.inner, tc.outer, got, tc.want)
		}
	}
}
