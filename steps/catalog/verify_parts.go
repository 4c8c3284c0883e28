package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// verifyParts runs the checks of verifyBackup on every part of a backup in
// parts, in restore order, each against what the manifest records of it;
// the first part that fails fails the backup. The backup's digest is the
// manifest's BackupDigest, which names every part's checked digest.
func verifyParts(ctx context.Context, b blob.Backend, bk *Backup, m *manifest.Manifest, opts VerifyOptions, res *VerifyResult) error {
	res.StoredBytes, res.Sidecar = 0, true
	var plain int64
	for i := range m.Parts {
		pm := m.Part(i)
		name := PartPath(bk.Name, pm.Object)
		res.Sidecar = res.Sidecar && slices.Contains(bk.Related, manifest.SidecarName(name, pm.Digest.Algorithm))
		obj, err := OpenChecked(ctx, markReads{b}, name, pm)
		if err != nil {
			return err
		}
		undo, note := undoStages(pm, opts.Keys != nil)
		res.Note = note
		c, err := checkContent(obj, undo, bk.KeyIDs, opts.Keys)
		obj.Close()
		if err != nil {
			return partError(b.URL(name), err)
		}
		if _, ok := obj.Digest(); !ok {
			return fmt.Errorf("part %s: no digest was checked", b.URL(name))
		}
		res.StoredBytes += obj.Bytes()
		if note != "" {
			continue
		}
		for _, id := range c.keyIDs {
			if !slices.Contains(res.KeyIDs, id) {
				res.KeyIDs = append(res.KeyIDs, id)
			}
		}
		plain += c.bytes
		if pm.PlaintextBytes > 0 && c.bytes != pm.PlaintextBytes {
			return fmt.Errorf("part %s: content is %d bytes once opened, the manifest records %d: the backup does not hold what was dumped", b.URL(name), c.bytes, pm.PlaintextBytes)
		}
	}
	res.Digest = m.BackupDigest().String()
	res.Level = LevelDigest
	if res.Note != "" {
		res.KeyIDs = res.KeyIDs[:0]
		return nil
	}
	res.PlaintextBytes = plain
	res.Level = LevelContent
	return nil
}

// partError names the part an error is about, unless it does already.
func partError(url string, err error) error {
	if strings.Contains(err.Error(), url) {
		return err
	}
	return fmt.Errorf("part %s: %w", url, err)
}
