package metrics

import (
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// rotatedStore makes a real dir key store whose first key was retired by a
// rotation at at(50).
func rotatedStore(t *testing.T) (dir string, retired, active keys.KeyInfo) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keys")
	d, first, err := keys.InitDir(dir, keys.TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Rotate(keys.RotateOptions{Type: keys.TypeX25519, Now: at(50)})
	if err != nil {
		t.Fatal(err)
	}
	return dir, first, res.Active
}

func TestCatalogMetrics(t *testing.T) {
	dir, retired, active := rotatedStore(t)
	rec := func(level string, sec int) *catalog.Record {
		return &catalog.Record{Level: level, Verified: at(sec)}
	}
	bk := func(db string, sec int, size int64, r *catalog.Record, key string) catalog.Backup {
		return catalog.Backup{Summary: catalog.Summary{Created: at(sec), Database: db, PlaintextBytes: size * 4},
			Object: blob.Info{Size: size}, Record: r, KeyIDs: []string{key}, Signature: catalog.Signature{State: catalog.SignatureValid}}
	}
	c := &catalog.Catalog{
		Root: "s3://bk/app/",
		Backups: []catalog.Backup{ // oldest first, as catalog.Read sorts them
			bk("app", 100, 10, rec("content", 150), retired.ID),
			bk("crm", 110, 20, nil, retired.ID),
			bk("app", 200, 30, rec("digest", 250), active.ID),
			bk("app", 300, 40, nil, active.ID),
		},
		Incomplete: []catalog.Incomplete{{Name: "x.age"}},
		Problems:   []catalog.Problem{{Kind: catalog.ProblemRenamed}, {Kind: catalog.ProblemRenamed}},
	}
	s, err := Catalog(CatalogInput{Catalog: c, Uploads: 1, Read: at(400), KeyStore: dir})
	if err != nil {
		t.Fatal(err)
	}
	out := text(t, s)
	lint(t, out)
	abs, _ := filepath.Abs(dir)
	d := `dest="s3://bk/app"`
	expect(t, series(t, out), map[string]float64{
		`sluice_catalog_read_timestamp_seconds{` + d + `}`:                                                  unix(at(400)),
		`sluice_catalog_backups{` + d + `}`:                                                                 4,
		`sluice_catalog_size_bytes{` + d + `}`:                                                              100,
		`sluice_catalog_verified_backups{` + d + `,level="digest"}`:                                         2,
		`sluice_catalog_verified_backups{` + d + `,level="content"}`:                                        1,
		`sluice_catalog_newest_backup_timestamp_seconds{` + d + `,database="app"}`:                          unix(at(300)),
		`sluice_catalog_newest_backup_size_bytes{` + d + `,database="app"}`:                                 40,
		`sluice_catalog_newest_backup_plaintext_bytes{` + d + `,database="app"}`:                            160,
		`sluice_catalog_newest_backup_timestamp_seconds{` + d + `,database="crm"}`:                          unix(at(110)),
		`sluice_catalog_newest_verified_backup_timestamp_seconds{` + d + `,database="app",level="digest"}`:  unix(at(200)),
		`sluice_catalog_newest_verified_backup_timestamp_seconds{` + d + `,database="app",level="content"}`: unix(at(100)),
		`sluice_catalog_last_verification_timestamp_seconds{` + d + `,database="app",level="digest"}`:       unix(at(250)),
		`sluice_catalog_last_verification_timestamp_seconds{` + d + `,database="app",level="content"}`:      unix(at(150)),
		// Never verified: 0, so that an alert on its age fires.
		`sluice_catalog_newest_verified_backup_timestamp_seconds{` + d + `,database="crm",level="digest"}`: 0,
		`sluice_catalog_backups_by_signature{` + d + `,state="signed"}`:                                    4,
		`sluice_catalog_problem_manifests{` + d + `,kind="unsigned"}`:                                      0,
		`sluice_catalog_incomplete_objects{` + d + `}`:                                                     1,
		`sluice_catalog_unfinished_uploads{` + d + `}`:                                                     1,
		`sluice_catalog_problem_manifests{` + d + `,kind="renamed"}`:                                       2,
		`sluice_catalog_problem_manifests{` + d + `,kind="unreadable"}`:                                    0,
		`sluice_catalog_key_active_since_timestamp_seconds{` + d + `,store="` + abs + `"}`:                 unix(at(50)),
		`sluice_catalog_key_retired_keys{` + d + `,store="` + abs + `"}`:                                   1,
		`sluice_catalog_retired_keys_needed{` + d + `,store="` + abs + `"}`:                                1,
		`sluice_catalog_backups_on_retired_keys{` + d + `,store="` + abs + `"}`:                            2,
	})
}

// A run reads its key stores after the fact: the active key's activation
// and the retired keys; a rotate-key step's count of backups on retired keys
// goes to the store that holds its keys.
func TestRunKeyStores(t *testing.T) {
	dir, retired, active := rotatedStore(t)
	abs, _ := filepath.Abs(dir)
	rep := report("rotate", true, 100)
	rep.Steps = []runner.StepReport{{ID: "rotate", Type: "rotate-key", Status: runner.StatusSucceeded,
		Outputs: map[string]any{"active_key_id": active.ID, "previous_key_id": retired.ID, "still_on_retired_keys": int64(3)}}}
	other := filepath.Join(t.TempDir(), "missing")
	out := text(t, Run(rep, RunOptions{Stores: []string{abs, other}}))
	lint(t, out)
	st := `plan="rotate",store="` + abs + `"`
	expect(t, series(t, out), map[string]float64{
		`sluice_key_active_since_timestamp_seconds{` + st + `}`: unix(at(50)),
		`sluice_key_retired_keys{` + st + `}`:                   1,
		`sluice_key_backups_on_retired_keys{` + st + `}`:        3,
	}, "missing")
}
