package steps

import (
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// TestOutcomes checks each step type's one-line summary against outputs of
// the shapes its run method returns, including the partial ones a
// summary must survive.
func TestOutcomes(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(runner.Outputs) string
		outs runner.Outputs
		want string
	}{
		{"upload", uploadOutcome, runner.Outputs{"url": "s3://b/app.age", "bytes": int64(4 << 20), "manifest": "s3://b/app.age.manifest.json"},
			"stored s3://b/app.age (4.0 MiB), manifest s3://b/app.age.manifest.json"},
		{"upload uncommitted", uploadOutcome, runner.Outputs{"bytes": int64(3)}, ""},
		{"download", downloadOutcome, runner.Outputs{"url": "file:///b/x.age", "bytes": int64(10), "created": "2026-11-26T22:00:00Z",
			"verified": true, "digest_algorithm": "sha256", "manifest": "file:///b/x.age.manifest.json", "signed_by": "s-1a2b", "signature": "signed"},
			"downloaded file:///b/x.age (10 B): created 2026-11-26T22:00:00Z, sha256 verified, manifest signed by s-1a2b"},
		{"restore", restoreOutcome, runner.Outputs{"database": "restore", "format": "custom", "tables": int64(4), "rows": int64(10000),
			"fingerprint": "0123456789abcdef0123", "verify": map[string]any{"recent": true, "count": int64(3)}},
			`restored a custom dump into database "restore": 4 tables, 10000 rows, fingerprint 0123456789abcdef; verify count=3, recent=true`},
		{"restore skip_checks", restoreOutcome, runner.Outputs{"database": "app", "format": "plain"},
			`restored a plain dump into database "app" (not read back: skip_checks)`},
		{"rotate not due", rotateKeyOutcome, runner.Outputs{"rotated": false, "active_key_id": "k-1", "active_key_age_days": 12.4, "max_age": "180d",
			"rewrapped": int64(0), "still_on_retired_keys": int64(2)},
			"not rotated: active key k-1 is 12 days old, max_age 180d; 2 backups still on retired keys"},
		{"rotate", rotateKeyOutcome, runner.Outputs{"rotated": true, "active_key_id": "k-2", "previous_key_id": "k-1", "active_key_age_days": 200.0,
			"rewrapped": int64(3), "failed": int64(1)},
			"rotated: key k-2 active, k-1 retired (it was 200 days old); rewrapped 3 backups, 1 failed"},
		{"rotate dry run", rotateKeyOutcome, runner.Outputs{"rotated": true, "dry_run": true, "previous_key_id": "k-1", "active_key_age_days": 1.0},
			"dry run: would rotate active key k-1 (1 day old)"},
	} {
		if got := c.f(c.outs); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}
