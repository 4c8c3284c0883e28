package steps

import (
	"context"
	"errors"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Verify is the parameter struct of the verify step: an action that checks
// stored backups end to end without writing plaintext anywhere (see
// catalog.VerifyBackup) and records the result next to each backup for
// prune.
type Verify struct {
	From       string         `yaml:"from" required:"true" doc:"folder (or bucket prefix) holding the backups: file:///abs/path, file://./relative, a plain path or s3://BUCKET/PREFIX"`
	Backup     string         `yaml:"backup" default:"latest" doc:"which backups: latest (the newest by its manifest), all, or one object's name relative to from"`
	Key        runner.KeyName `yaml:"key" doc:"the plan's keys: entry whose identities (active and retired) open the backups; without key or identities, encrypted backups are checked by digest only"`
	Identities []string       `yaml:"identities" doc:"age identity files (mode 0600), instead of key"`
	Record     bool           `yaml:"record" default:"true" doc:"write NAME.verified.json next to each backup that passes and remove it from one that fails; prune never deletes the newest backup with a current record"`
	// Signature checks, before anything else.
	VerifyWith    runner.KeyName `yaml:"verify_with" doc:"the plan's keys: entry whose verification keys check each manifest's signature first (public parts suffice); default: key, else the plan's only keys: entry"`
	AllowUnsigned bool           `yaml:"allow_unsigned" doc:"check backups whose manifest is not signed too (logged as a warning); without it they fail"`
}

var (
	_ runner.Action    = (*Verify)(nil)
	_ runner.Validator = (*Verify)(nil)
)

func verifyDefinition() runner.Definition {
	return runner.Definition{
		Type:    "verify",
		Kind:    runner.KindAction,
		Summary: "Download stored backups and check digest, sidecar, age authentication and compression frames to the end, writing no plaintext",
		New:     func() any { return &Verify{} },
		Outputs: []runner.OutputSpec{
			{Name: "checked", Type: "int", Doc: "backups checked"},
			{Name: "verified", Type: "int", Doc: "backups that passed"},
			{Name: "failed", Type: "int", Doc: "backups that failed (the step fails when this is not 0)"},
			{Name: "content_verified", Type: "bool", Doc: "every backup checked passed at content level (decrypted and decompressed to the end), not by digest only"},
			{Name: "backups", Type: "list", Doc: "one map per backup, oldest first: name, url, created, ok, level (digest or content), digest, sidecar, key_ids, stored_bytes, plaintext_bytes, signature (signed, unsigned or unchecked), signed_by (the verification key's id), note, error"},
		},
	}
}

// Validate checks the selection, the keys and the storage URL.
func (p *Verify) Validate() error {
	if p.Key != "" && len(p.Identities) > 0 {
		return errors.New("set at most one of key (a keys: entry) and identities (identity files)")
	}
	if strings.TrimSpace(p.Backup) == "" {
		return errors.New("backup is empty: use latest, all or an object's name")
	}
	_, err := blob.OpenRoot(p.From)
	return err
}

// Run verifies the selected backups.
func (p *Verify) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	b, err := blob.OpenRoot(p.From)
	if err != nil {
		return nil, err
	}
	trustKey := p.VerifyWith
	if trustKey == "" {
		trustKey = p.Key
	}
	trust, err := catalog.PlanTrust(sc.Keys, trustKey, p.AllowUnsigned, sc.Logger.Warn)
	if err != nil {
		return nil, err
	}
	opts := catalog.VerifyOptions{Record: p.Record, RunID: sc.RunID, Logger: sc.Logger, Trust: trust}
	switch {
	case p.Key != "":
		cfg, err := keys.Entry(sc.Keys, string(p.Key))
		if err != nil {
			return nil, err
		}
		opts.Keys = catalog.StoreKeys(cfg)
	case len(p.Identities) > 0:
		opts.Keys = catalog.IdentityFiles(p.Identities)
	}
	results, err := catalog.VerifyDest(ctx, b, p.Backup, opts)
	if err != nil {
		return nil, err
	}
	return catalog.VerifyOutputs(results), catalog.VerifyError(results)
}
