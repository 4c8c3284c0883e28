package keys

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/steps/blob"
)

// Destination is a folder (or bucket prefix) where backups encrypted to
// the store's keys were written, by its canonical URL (blob.FolderURL).
// The ledger remembers them so that a rotation and a key's destruction
// can check every place where a backup may need a key. It holds no secret.
type Destination struct {
	URL   string    `json:"url"`
	Since time.Time `json:"since"`
	// By says who recorded it and how: "upload (user@host)" or
	// "keys dest add (user@host)".
	By string `json:"by"`
}

// Destinations returns the destinations the ledger knows, oldest first.
func (d *Dir) Destinations() []Destination {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ledger.Destinations)
}

// Known returns the destination that covers the folder URL rawURL (the
// same folder or one above it), and whether there is one.
func (d *Dir) Known(rawURL string) (Destination, bool, error) {
	u, err := blob.FolderURL(rawURL)
	if err != nil {
		return Destination{}, false, err
	}
	k, ok := covering(d.Destinations(), u)
	return k, ok, nil
}

func covering(known []Destination, u string) (Destination, bool) {
	for _, k := range known {
		if blob.Within(u, k.URL) {
			return k, true
		}
	}
	return Destination{}, false
}

// AddDestination records the folder URL rawURL in the ledger, under the
// ledger lock, unless a known destination covers it already; by says how
// (e.g. "upload"). Known destinations under the new one are replaced by
// it. It reports whether the ledger changed. A store whose folder cannot
// be written (a read-only copy on a backup host) returns the error of the
// lock or the write.
func (d *Dir) AddDestination(rawURL, by string) (bool, error) {
	u, err := blob.FolderURL(rawURL)
	if err != nil {
		return false, err
	}
	if _, ok := covering(d.Destinations(), u); ok {
		return false, nil
	}
	added := false
	err = d.update(func(next *ledger) error {
		if _, ok := covering(next.Destinations, u); ok {
			return nil
		}
		next.Destinations = slices.DeleteFunc(next.Destinations, func(k Destination) bool { return blob.Within(k.URL, u) })
		next.Destinations = append(next.Destinations, Destination{URL: u, Since: time.Now().UTC().Truncate(time.Second), By: by + " (" + Actor() + ")"})
		added = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("recording destination %s in the ledger: %w", u, err)
	}
	return added, nil
}

// ForgetDestination removes the destination rawURL (exactly that folder)
// from the ledger, for a destination that no longer exists. It reports
// whether the ledger knew it.
func (d *Dir) ForgetDestination(rawURL string) (bool, error) {
	u, err := blob.FolderURL(rawURL)
	if err != nil {
		return false, err
	}
	found := false
	err = d.update(func(next *ledger) error {
		n := len(next.Destinations)
		next.Destinations = slices.DeleteFunc(next.Destinations, func(k Destination) bool { return k.URL == u })
		found = len(next.Destinations) < n
		return nil
	})
	return found, err
}

// Uncovered returns the known destinations that no folder of checked (in
// the canonical form of blob.FolderURL) covers: where backups may need a
// key although nobody looked.
func Uncovered(known []Destination, checked []string) []Destination {
	var out []Destination
	for _, k := range known {
		if !slices.ContainsFunc(checked, func(c string) bool { return blob.Within(k.URL, c) }) {
			out = append(out, k)
		}
	}
	return out
}
