package steps

import (
	"fmt"
	"slices"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
)

// destination returns the canonical folder URL of the backups the object
// belongs to: dest, which must hold to, or to's folder.
func (u *Upload) destination() (string, error) {
	b, name, err := blob.Open(u.To)
	if err != nil {
		return "", err
	}
	folder, err := blob.FolderURL(b.URL(""))
	if err != nil {
		return "", err
	}
	if u.Dest == "" {
		return folder, nil
	}
	dest, err := blob.FolderURL(u.Dest)
	if err != nil {
		return "", fmt.Errorf("dest: %w", err)
	}
	if !blob.Within(folder, dest) {
		return "", fmt.Errorf("dest %s does not hold to (%s): set dest to the folder the backups go to, e.g. the plan's dest param", dest, b.URL(name))
	}
	return dest, nil
}

// recordDestination remembers, in the ledger of each key store the
// backup is encrypted to, the folder it went to, so that rotations and
// keys destroy check it (keys.Dir.AddDestination). The backup is committed
// already: a ledger that cannot be written (a backup host's read-only
// copy of the store) is a warning saying how to record the destination
// where the store's rotations run, never a failure.
func (p *pendingUpload) recordDestination(upstream []runner.Stage) {
	warn := func(msg string, args ...any) {
		if p.sc.Logger != nil {
			p.sc.Logger.Warn(msg, args...)
		}
	}
	dest, err := p.u.destination()
	if err != nil {
		warn("backup destination not recorded in any key store's ledger", "error", err.Error())
		return
	}
	for _, name := range encryptStores(upstream) {
		store, err := keys.OpenEntry(p.sc.Keys, string(name))
		if err != nil {
			continue // encrypt opened it; nothing to add here
		}
		d, ok := store.(*keys.Dir)
		if !ok {
			continue
		}
		added, err := d.AddDestination(dest, "upload")
		switch {
		case err != nil:
			warn(fmt.Sprintf("backup destination %s is not recorded in the ledger of key store %q (%s): rotate-key and keys destroy check only the destinations the ledger knows; record it where the store's rotations run: sluice keys dest add STORE %s", dest, name, d.Path(), dest),
				"error", err.Error())
		case added && d.PublicOnly():
			warn(fmt.Sprintf("backup destination %s is recorded in the ledger of key store %q (%s), a copy without identities: the store where rotations run does not see this record; run there: sluice keys dest add STORE %s", dest, name, d.Path(), dest))
		case added && p.sc.Logger != nil:
			p.sc.Logger.Info("backup destination recorded in the key store's ledger", "dest", dest, "store", string(name))
		}
	}
}

// encryptStores names the keys: entries the encrypt steps upstream encrypt
// to, in stream order, each once.
func encryptStores(upstream []runner.Stage) []runner.KeyName {
	var out []runner.KeyName
	for _, st := range upstream {
		if e, ok := st.Params.(*Encrypt); ok && e.Key != "" && !slices.Contains(out, e.Key) {
			out = append(out, e.Key)
		}
	}
	return out
}
