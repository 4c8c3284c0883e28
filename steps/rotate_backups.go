package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// storedBackup is one backup found under a destination: its object, its
// manifest and the key ids the manifest says it is encrypted to.
type storedBackup struct {
	Object   string
	Manifest *manifest.Manifest
	KeyIDs   []string
}

// listBackups reads every manifest under the destination root b. Objects
// whose manifest names no encrypt stage (plaintext backups) have no key ids.
func listBackups(ctx context.Context, b blob.Backend) ([]storedBackup, error) {
	infos, err := b.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []storedBackup
	for _, in := range infos {
		if !strings.HasSuffix(in.Name, manifestSuffix) {
			continue
		}
		m, err := readManifest(ctx, b, in.Name)
		if err != nil {
			return nil, err
		}
		object := strings.TrimSuffix(in.Name, manifestSuffix)
		out = append(out, storedBackup{Object: object, Manifest: m, KeyIDs: manifestKeyIDs(m)})
	}
	return out, nil
}

func readManifest(ctx context.Context, b blob.Backend, name string) (*manifest.Manifest, error) {
	rc, err := b.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	m, err := manifest.Read(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.URL(name), err)
	}
	return m, nil
}

// setManifestKeys records new key ids and recipients in the manifest's
// encrypt stages.
func setManifestKeys(m *manifest.Manifest, ids, recipients []string) {
	for i := range m.Stages {
		if m.Stages[i].Type != "encrypt" {
			continue
		}
		if m.Stages[i].Outputs == nil {
			m.Stages[i].Outputs = map[string]any{}
		}
		m.Stages[i].Outputs["key_ids"] = ageList(ids)
		m.Stages[i].Outputs["recipients"] = ageList(recipients)
	}
}

// BackupsByKey reads the manifests under the destination folder URL dest
// and returns, per key id, the URLs of the backups encrypted to that key.
// The key registry (sluice keys list --dest, keys destroy) uses it.
func BackupsByKey(ctx context.Context, dest string) (map[string][]string, error) {
	b, err := blob.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	backups, err := listBackups(ctx, b)
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
