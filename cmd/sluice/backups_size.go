package main

import (
	"fmt"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// problemSizeMismatch is the kind of problem of a backup whose object is
// not the size its manifest records.
const problemSizeMismatch = "size-mismatch"

// sizeProblem checks a listed backup's object against the size its signed
// manifest records: a truncated or replaced object (a 0-byte file) is
// still listed, but flagged, so that nobody takes it for a good backup
// before `backups verify` reads it.
func sizeProblem(bk catalog.Backup) *catalog.Problem {
	want, got := bk.Summary.StoredBytes, bk.Object.Size
	if want == got {
		return nil
	}
	return &catalog.Problem{Manifest: manifest.ManifestName(bk.Name), URL: bk.URL, Kind: problemSizeMismatch,
		Detail: fmt.Sprintf("object %s is %s but its manifest records %s: it was truncated or replaced after the backup; run 'sluice backups verify' and do not restore it", bk.Name, runner.FormatBytes(got), runner.FormatBytes(want))}
}
