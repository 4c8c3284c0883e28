package rotation

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// storedBackup is one backup found under a destination: its object, its
// manifest (checked by the signature gate) and the key ids the manifest says
// it is encrypted to.
type storedBackup struct {
	Object    string
	Manifest  *manifest.Manifest
	KeyIDs    []string
	Signature catalog.Signature
}

// listBackups returns every backup under the destination root b, from the
// catalogue. A manifest the catalogue cannot trust (unreadable, renamed, its
// object missing) is an error: a rotation or a key destruction must not go
// ahead while a backup's key needs are unknown.
func listBackups(ctx context.Context, b blob.Backend, trust catalog.Trust) ([]storedBackup, error) {
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		return nil, err
	}
	if len(c.Problems) > 0 {
		var msgs []string
		for _, p := range c.Problems {
			msgs = append(msgs, p.URL+": "+p.Detail)
		}
		return nil, fmt.Errorf("untrusted manifests: %s", strings.Join(msgs, "; "))
	}
	out := make([]storedBackup, 0, len(c.Backups))
	for _, bk := range c.Backups {
		m, err := bk.LoadManifest(ctx, b, trust)
		if err != nil {
			return nil, err
		}
		out = append(out, storedBackup{Object: bk.Name, Manifest: m, KeyIDs: bk.KeyIDs, Signature: bk.Signature})
	}
	return out, nil
}

// setManifestKeys records new key ids and recipients in the manifest's
// encrypt stages, as lists of the kind step outputs hold.
func setManifestKeys(m *manifest.Manifest, ids, recipients []string) {
	for i := range m.Stages {
		if m.Stages[i].Type != "encrypt" {
			continue
		}
		if m.Stages[i].Outputs == nil {
			m.Stages[i].Outputs = map[string]any{}
		}
		m.Stages[i].Outputs["key_ids"] = runner.List(ids)
		m.Stages[i].Outputs["recipients"] = runner.List(recipients)
	}
}

// BackupsByKey reads the manifests under the destination folder URL dest,
// each checked against trust, and returns, per key id, the URLs of the
// backups encrypted to that key. The key registry (sluice keys list --dest,
// keys destroy) uses it.
func BackupsByKey(ctx context.Context, dest string, trust catalog.Trust) (map[string][]string, error) {
	b, err := blob.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	backups, err := listBackups(ctx, b, trust)
	if err != nil {
		return nil, fmt.Errorf("reading backups under %s: %w", dest, err)
	}
	out := map[string][]string{}
	for _, bk := range backups {
		for _, id := range bk.KeyIDs {
			out[id] = append(out[id], b.URL(bk.Object))
		}
	}
	return out, nil
}

// PendingMoves returns the URLs of the backups under the destination
// folder URL dest that have a rewrap journal: a move a crash interrupted,
// which the next rotation finishes with the old key (it must open the old
// header), so no key may be destroyed meanwhile.
func PendingMoves(ctx context.Context, dest string) ([]string, error) {
	b, err := blob.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	infos, err := b.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dest, err)
	}
	var out []string
	for _, in := range infos {
		if obj, ok := strings.CutSuffix(in.Name, journalSuffix); ok {
			out = append(out, b.URL(obj))
		}
	}
	return out, nil
}
