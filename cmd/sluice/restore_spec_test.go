package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// backupManifest is the manifest of plans/backup.yaml's pipeline.
func backupManifest(format string, compress, keyIDs any) *manifest.Manifest {
	return &manifest.Manifest{
		Source: &manifest.Source{Step: "dump", Type: "dump", Format: format},
		Stages: []manifest.Stage{
			{ID: "dump", Type: "dump"},
			{ID: "compress", Type: "compress", Outputs: map[string]any{"algorithm": compress}},
			{ID: "encrypt", Type: "encrypt", Outputs: map[string]any{"key_ids": keyIDs}},
			{ID: "checksum", Type: "checksum"},
		},
	}
}

// TestRestoreSpecKeepsText binds every step of a derived restore in an
// environment that holds a secret, with ${{ }} text in each value that can
// be free text (key ids from the manifest, the object and key paths from
// the command line): every step gets the text as written.
func TestRestoreSpecKeepsText(t *testing.T) {
	const secret = "spec-secret-from-the-environment"
	const text = "${{ env.SLUICE_SPEC_VALUE }}"
	spec, err := deriveRestore(backupManifest("plain", "gzip", []any{text}), "/backups/"+text+".age")
	if err != nil {
		t.Fatal(err)
	}
	spec.keyDir, spec.clean = "/keys/"+text, false
	plan, err := spec.build(steps.Builtin(), "postgres://u@127.0.0.1:1/app")
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Keys[storeKey].Path; got != "/keys/"+text {
		t.Errorf("key path = %q", got)
	}
	env := runner.Env{"env": map[string]any{"SLUICE_SPEC_VALUE": secret}, "params": map[string]any{},
		"steps": map[string]any{}, "run": map[string]any{}, "plan": map[string]any{}}
	var types []string
	for _, st := range plan.Steps {
		types = append(types, st.Type)
		p, err := st.Bind(env)
		if err != nil {
			t.Fatalf("binding %s: %v", st.ID, err)
		}
		if s := fmt.Sprintf("%+v", p); strings.Contains(s, secret) {
			t.Errorf("step %s was bound with the secret: %s", st.ID, s)
		}
		switch p := p.(type) {
		case *steps.Download:
			if p.From != "/backups/"+text+".age" {
				t.Errorf("download.from = %q", p.From)
			}
		case *steps.Decrypt:
			if len(p.ExpectedKeyIDs) != 1 || p.ExpectedKeyIDs[0] != text || p.Key != storeKey {
				t.Errorf("decrypt = %+v", p)
			}
		case *steps.Decompress:
			if p.Algorithm != "gzip" {
				t.Errorf("decompress.algorithm = %q", p.Algorithm)
			}
		case *steps.Restore:
			if p.Format != "plain" || !p.SingleTransaction || !p.SkipChecks || p.Target != "" {
				t.Errorf("restore = %+v", p)
			}
		}
	}
	if got := strings.Join(types, " "); got != "download decrypt decompress restore" {
		t.Errorf("steps = %s", got)
	}
}

// TestRestoreSpecRefuses lists manifest values restore does not accept:
// each is refused as written, before anything runs.
func TestRestoreSpecRefuses(t *testing.T) {
	tests := []struct {
		name string
		m    *manifest.Manifest
		want string
	}{
		{"expression as algorithm", backupManifest("custom", "${{ 'zstd' }}", nil), `records algorithm "${{ 'zstd' }}", which is not zstd or gzip`},
		{"number as algorithm", backupManifest("custom", 3, nil), `records algorithm "3"`},
		{"expression as format", backupManifest("${{ 'plain' }}", "zstd", nil), `dump format "${{ 'plain' }}" is not custom or plain`},
		{"auto format", backupManifest("auto", "zstd", nil), `dump format "auto" is not custom or plain`},
		{"no format", backupManifest("", "zstd", nil), `records no format`},
		{"not a dump", &manifest.Manifest{Source: &manifest.Source{Type: "exec"}}, `not a database backup`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := deriveRestore(tt.m, "/b/x.age")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("deriveRestore: %v\nwant %q", err, tt.want)
			}
		})
	}
}
