package steps

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// manifestSuffix ends the name of every manifest (see manifest.ManifestName).
var manifestSuffix = manifest.ManifestName("")

// latestBackup returns the newest complete backup under b's
// root, as the catalogue orders them: the object whose manifest records the
// latest created time (ties go to the greater name, so the choice is
// stable). Objects without a manifest are incomplete and ignored, as are
// manifests whose object is gone. A manifest that cannot be read or does
// not pass the signature gate is an error rather than a reason to pick an
// older backup silently.
func latestBackup(ctx context.Context, b blob.Backend, trust catalog.Trust, logger hclog.Logger) (*catalog.Backup, error) {
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		return nil, fmt.Errorf("finding the newest backup: %w", err)
	}
	skipped := 0
	for _, p := range c.Problems {
		if p.Kind != catalog.ProblemObjectMissing {
			return nil, fmt.Errorf("finding the newest backup: manifest %s: %s", p.URL, p.Detail)
		}
		skipped++
		logger.Warn("ignoring a manifest whose object is missing", "manifest", p.URL)
	}
	best, ok := c.Latest()
	if !ok {
		return nil, fmt.Errorf("no complete backup under %s: no object there has its manifest (NAME.manifest.json)%s; check the folder, or run a backup first",
			b.URL(""), skippedNote(skipped))
	}
	logger.Info("newest backup", "url", best.URL, "created", best.Created(), "run_id", best.Summary.RunID, "signature", best.Signature.String())
	return best, nil
}

func skippedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d manifest(s) without their object were ignored)", n)
}
