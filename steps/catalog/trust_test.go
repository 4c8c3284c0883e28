package catalog_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// TestPlanAndPathTrust: where readers of backups get their verification
// keys, and what happens without them.
func TestPlanAndPathTrust(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	if _, _, err := keys.InitDir(store, keys.TypeX25519); err != nil {
		t.Fatal(err)
	}
	one := map[string]runner.KeyConfig{"backup": {Path: store}}
	missing := map[string]runner.KeyConfig{"backup": {Path: filepath.Join(t.TempDir(), "nothing")}}
	var warned []string
	warn := func(msg string, _ ...any) { warned = append(warned, msg) }
	for _, tt := range []struct {
		name         string
		trust        func() (catalog.Trust, error)
		err          string
		verifier     bool
		warnContains string
	}{
		{"the only entry", func() (catalog.Trust, error) { return catalog.PlanTrust(one, "", false, warn) }, "", true, ""},
		{"no entry", func() (catalog.Trust, error) { return catalog.PlanTrust(nil, "", false, warn) }, "no key store to check backup signatures", false, ""},
		{"no entry, unsigned allowed", func() (catalog.Trust, error) { return catalog.PlanTrust(nil, "", true, warn) }, "", false, "allow_unsigned is set"},
		{"entry without keys", func() (catalog.Trust, error) { return catalog.PlanTrust(missing, "backup", false, warn) }, "does not exist", false, ""},
		{"entry without keys, unsigned allowed", func() (catalog.Trust, error) { return catalog.PlanTrust(missing, "backup", true, warn) }, "", false, "signatures are not checked"},
		{"a folder", func() (catalog.Trust, error) { return catalog.PathTrust(store, false, warn) }, "", true, ""},
		{"no folder", func() (catalog.Trust, error) { return catalog.PathTrust("", false, warn) }, catalog.ErrNoVerifyKeys.Error(), false, ""},
		{"no folder, unsigned allowed", func() (catalog.Trust, error) { return catalog.PathTrust("", true, warn) }, "", false, "--allow-unsigned"},
		{"a folder that is not there, unsigned allowed", func() (catalog.Trust, error) { return catalog.PathTrust(filepath.Join(store, "x"), true, warn) }, "x", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			warned = nil
			tr, err := tt.trust()
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if tt.err == catalog.ErrNoVerifyKeys.Error() && !errors.Is(err, catalog.ErrNoVerifyKeys) {
				t.Errorf("error %v is not ErrNoVerifyKeys", err)
			}
			if err == nil && (tr.Verifier != nil) != tt.verifier {
				t.Errorf("verifier %v, want one: %v", tr.Verifier, tt.verifier)
			}
			if tt.warnContains != "" && !strings.Contains(strings.Join(warned, "\n"), tt.warnContains) {
				t.Errorf("warnings %q, want %q", warned, tt.warnContains)
			}
		})
	}
}
