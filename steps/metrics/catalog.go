package metrics

import (
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/steps/catalog"
)

// CatalogInput is what Catalog describes: a destination's catalogue, its
// unfinished uploads, and optionally the key store its backups are
// encrypted to.
type CatalogInput struct {
	Catalog  *catalog.Catalog
	Uploads  int       // unfinished uploads (catalog.Unfinished)
	Read     time.Time // when the catalogue was read
	KeyStore string    // path of a dir key store (--key-dir); empty: none
}

// levels are the verification levels, weakest first: a backup verified at
// content level is verified at digest level too.
var levels = []string{catalog.LevelDigest, catalog.LevelContent}

// Catalog returns the metrics of a destination's backups: counts and sizes,
// the newest backup per database and the newest verified one per level,
// leftovers and untrusted manifests, and with a key store its active key's
// age and the retired keys the backups still need. The set is the
// destination's whole state (a Snapshot) in the group dest.
func Catalog(in CatalogInput) (*Set, error) {
	c := in.Catalog
	s := NewSet("dest", Root(c.Root))
	s.Snapshot = true
	s.set("sluice_catalog_read_timestamp_seconds", unix(in.Read))
	s.set("sluice_catalog_backups", float64(len(c.Backups)))
	s.set("sluice_catalog_incomplete_objects", float64(len(c.Incomplete)))
	s.set("sluice_catalog_unfinished_uploads", float64(in.Uploads))
	var size float64
	verified := map[string]int{}
	for _, l := range levels {
		verified[l] = 0
	}
	for i := range c.Backups {
		bk := &c.Backups[i] // oldest first: a later one is newer
		db := bk.Summary.Database
		size += float64(bk.Object.Size)
		s.set("sluice_catalog_newest_backup_timestamp_seconds", unix(bk.Created()), db)
		s.set("sluice_catalog_newest_backup_size_bytes", float64(bk.Object.Size), db)
		s.set("sluice_catalog_newest_backup_plaintext_bytes", float64(bk.Summary.PlaintextBytes), db)
		for _, l := range levels {
			if _, ok := s.value("sluice_catalog_newest_verified_backup_timestamp_seconds", db, l); !ok {
				s.set("sluice_catalog_newest_verified_backup_timestamp_seconds", 0, db, l)
				s.set("sluice_catalog_last_verification_timestamp_seconds", 0, db, l)
			}
			if !verifiedAt(bk, l) {
				continue
			}
			verified[l]++
			s.set("sluice_catalog_newest_verified_backup_timestamp_seconds", unix(bk.Created()), db, l)
			at := unix(bk.Record.Verified)
			if old, _ := s.value("sluice_catalog_last_verification_timestamp_seconds", db, l); at > old {
				s.set("sluice_catalog_last_verification_timestamp_seconds", at, db, l)
			}
		}
		if st := signatureState(bk); st != "" {
			old, _ := s.value("sluice_catalog_backups_by_signature", st)
			s.set("sluice_catalog_backups_by_signature", old+1, st)
		}
	}
	s.set("sluice_catalog_size_bytes", size)
	for _, l := range levels {
		s.set("sluice_catalog_verified_backups", float64(verified[l]), l)
	}
	problems := map[string]int{}
	for _, p := range c.Problems {
		problems[p.Kind]++
	}
	for _, k := range problemKinds {
		problems[k] += 0
	}
	for k, n := range problems {
		s.set("sluice_catalog_problem_manifests", float64(n), k)
	}
	if in.KeyStore != "" {
		if err := catalogKeys(s, c, in.KeyStore); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// problemKinds are always written, so that an alert on one compares with 0
// rather than with nothing.
var problemKinds = []string{catalog.ProblemObjectMissing, catalog.ProblemUnreadable, catalog.ProblemRenamed,
	catalog.ProblemUnsigned, catalog.ProblemSignature}

// signatureState is how a backup's manifest passed the signature gate:
// signed, or (accepted with --allow-unsigned) unsigned or unchecked.
func signatureState(bk *catalog.Backup) string { return bk.Signature.State }

// verifiedAt tells whether bk has a current verify record at level l or
// above.
func verifiedAt(bk *catalog.Backup, l string) bool {
	if bk.Record == nil {
		return false
	}
	return l == catalog.LevelDigest || bk.Record.Level == catalog.LevelContent
}

// catalogKeys records a key store's active key and retired keys, and which
// retired keys the destination's backups still need.
func catalogKeys(s *Set, c *catalog.Catalog, dir string) error {
	f, err := readStore(dir)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if f.hasActive {
		s.set("sluice_catalog_key_active_since_timestamp_seconds", f.activeSince, path)
	}
	s.set("sluice_catalog_key_retired_keys", float64(len(f.retired)), path)
	needed := map[string]bool{}
	onRetired := 0
	for i := range c.Backups {
		on := false
		for _, id := range c.Backups[i].KeyIDs {
			if f.retired[id] {
				needed[id], on = true, true
			}
		}
		if on {
			onRetired++
		}
	}
	s.set("sluice_catalog_retired_keys_needed", float64(len(needed)), path)
	s.set("sluice_catalog_backups_on_retired_keys", float64(onRetired), path)
	return nil
}
