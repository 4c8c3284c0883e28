package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
)

// Verify is the parameter struct of the verify step: an action that checks
// stored backups end to end without writing plaintext anywhere (see
// VerifyBackup) and records the result next to each backup for prune.
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
		New:     func() any { return &Verify{Backup: "latest", Record: true} },
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
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := blob.OpenRoot(p.From)
	if err != nil {
		return nil, err
	}
	trustKey := p.VerifyWith
	if trustKey == "" {
		trustKey = p.Key
	}
	trust, err := stepTrust(sc, trustKey, p.AllowUnsigned)
	if err != nil {
		return nil, err
	}
	opts := VerifyOptions{Keys: sc.Keys, Record: p.Record, RunID: sc.RunID, Logger: sc.Logger, Trust: trust}
	if p.Key != "" || len(p.Identities) > 0 {
		opts.Decrypt = &Decrypt{Key: p.Key, Identities: p.Identities}
	}
	results, err := VerifyDest(ctx, b, p.Backup, opts)
	if err != nil {
		return nil, err
	}
	return VerifyOutputs(results), VerifyError(results)
}

// VerifyDest reads the catalogue of b through the signature gate
// (opts.Trust) and verifies the backups which selects (see SelectBackups),
// oldest first; a backup the gate refuses is a failed result.
func VerifyDest(ctx context.Context, b blob.Backend, which string, opts VerifyOptions) ([]VerifyResult, error) {
	c, err := catalog.Read(ctx, b, opts.Trust)
	if err != nil {
		return nil, err
	}
	sel, results, err := SelectBackups(c, which)
	if err != nil {
		return nil, err
	}
	if opts.Decrypt != nil {
		if err := checkKeys(opts, sel); err != nil {
			return nil, err
		}
	}
	for _, bk := range sel {
		r := VerifyBackup(ctx, b, bk, opts)
		if opts.Logger != nil {
			if r.OK {
				opts.Logger.Info("backup verified", "url", r.URL, "level", r.Level, "signed_by", r.SignedBy, "note", r.Note)
			} else {
				opts.Logger.Error("backup failed verification", "url", r.URL, "error", r.Error)
			}
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
	}
	return results, nil
}

// VerifyOutputs renders results as the verify step's outputs.
func VerifyOutputs(results []VerifyResult) runner.Outputs {
	list := make([]any, 0, len(results))
	verified, content := 0, len(results) > 0
	for _, r := range results {
		list = append(list, r.Outputs())
		if r.OK {
			verified++
		}
		content = content && r.OK && r.Level == catalog.LevelContent
	}
	return runner.Outputs{
		"checked": int64(len(results)), "verified": int64(verified), "failed": int64(len(results) - verified),
		"content_verified": content, "backups": list,
	}
}

// VerifyError returns an error naming every backup that failed, nil when
// none did.
func VerifyError(results []VerifyResult) error {
	var msgs []string
	for _, r := range results {
		switch {
		case r.OK:
		case strings.Contains(r.Error, r.URL):
			msgs = append(msgs, r.Error)
		default:
			msgs = append(msgs, r.URL+": "+r.Error)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d backup(s) failed verification: %s", len(msgs), len(results), strings.Join(msgs, "; "))
}
