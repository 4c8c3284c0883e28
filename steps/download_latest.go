package steps

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// manifestSuffix ends the name of every manifest (see manifest.ManifestName).
var manifestSuffix = manifest.ManifestName("")

// latestBackup returns the name of the newest complete backup under b's
// root: the object whose manifest records the latest created time (ties go
// to the greater name, so the choice is stable). Objects without a manifest
// are incomplete and ignored, as are manifests whose object is gone. A
// manifest that cannot be read is an error rather than a reason to pick an
// older backup silently.
func latestBackup(ctx context.Context, b blob.Backend, logger hclog.Logger) (string, error) {
	infos, err := b.List(ctx, "")
	if err != nil {
		return "", fmt.Errorf("finding the newest backup: %w", err)
	}
	present := make(map[string]bool, len(infos))
	for _, in := range infos {
		present[in.Name] = true
	}
	var (
		best    string
		bestMan *manifest.Manifest
		skipped int
	)
	for _, in := range infos {
		if !strings.HasSuffix(in.Name, manifestSuffix) {
			continue
		}
		data, err := readSmall(ctx, b, in.Name)
		if err != nil {
			return "", fmt.Errorf("finding the newest backup: %w", err)
		}
		m, err := manifest.Parse(data)
		if err != nil {
			return "", fmt.Errorf("finding the newest backup: manifest %s: %w; repair or remove it", b.URL(in.Name), err)
		}
		obj := strings.TrimSuffix(in.Name, manifestSuffix)
		if m.Object != path.Base(obj) {
			return "", fmt.Errorf("finding the newest backup: manifest %s describes object %q, not %q; it was renamed or copied: repair or remove it", b.URL(in.Name), m.Object, path.Base(obj))
		}
		if !present[obj] {
			skipped++
			logger.Warn("ignoring a manifest whose object is missing", "manifest", b.URL(in.Name))
			continue
		}
		if bestMan == nil || m.Created.After(bestMan.Created) || (m.Created.Equal(bestMan.Created) && obj > best) {
			best, bestMan = obj, m
		}
	}
	if bestMan == nil {
		return "", fmt.Errorf("no complete backup under %s: no object there has its manifest (NAME.manifest.json)%s; check the folder, or run a backup first",
			b.URL(""), skippedNote(skipped))
	}
	logger.Info("newest backup", "url", b.URL(best), "created", bestMan.Created, "run_id", bestMan.RunID)
	return best, nil
}

func skippedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d manifest(s) without their object were ignored)", n)
}

// manifestKeyIDs returns the key ids the manifest's encrypt stages recorded,
// in order and without duplicates.
func manifestKeyIDs(m *manifest.Manifest) []string {
	ids := []string{}
	seen := map[string]bool{}
	for _, st := range m.Stages {
		if st.Type != "encrypt" {
			continue
		}
		list, _ := st.Outputs["key_ids"].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" && !seen[s] {
				seen[s] = true
				ids = append(ids, s)
			}
		}
	}
	return ids
}
