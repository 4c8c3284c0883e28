package steps

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUploadDestination checks the folder an upload records in the key
// store's ledger: dest when set (it must hold to), else to's folder.
func TestUploadDestination(t *testing.T) {
	t.Chdir(t.TempDir())
	wd, _ := filepath.Abs(".")
	for _, tc := range []struct{ to, dest, want string }{
		{"file://./b/2024-01-01/app.dump.zst.age", "", "file://" + wd + "/b/2024-01-01"},
		{"b/2024-01-01/app.dump.zst.age", "file://./b/", "file://" + wd + "/b"},
		{"file:///srv/b/app.age", "/srv/b", "file:///srv/b"},
		{"file:///srv/b/app.age", "/srv", "file:///srv"},
		{"s3://bucket/app/2024-01-01/app.age", "s3://bucket/app/", "s3://bucket/app"},
		{"s3://bucket/app.age", "", "s3://bucket"},
	} {
		u := &Upload{To: tc.to, Dest: tc.dest}
		got, err := u.destination()
		if err != nil || got != tc.want {
			t.Errorf("to %s, dest %q: %q, %v; want %q", tc.to, tc.dest, got, err, tc.want)
		}
		if err := u.Validate(); err != nil {
			t.Errorf("to %s, dest %q: Validate: %v", tc.to, tc.dest, err)
		}
	}
	for _, tc := range []struct{ to, dest string }{
		{"file:///srv/b/app.age", "/srv/backups"},
		{"file:///srv/b/app.age", "/srv/b/app.age"},
		{"s3://bucket/app/x.age", "file:///bucket/app"},
		{"s3://bucket/app/x.age", "s3://other/app"},
	} {
		err := (&Upload{To: tc.to, Dest: tc.dest}).Validate()
		if err == nil || !strings.Contains(err.Error(), "does not hold to") {
			t.Errorf("to %s, dest %s: Validate = %v, want it refused", tc.to, tc.dest, err)
		}
	}
}
