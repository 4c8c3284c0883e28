package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// cmdRestore restores a backup from its manifest: it derives the inverse
// pipeline (download, decrypt, decompress, restore) from the recorded
// stages and runs it as a plan, so no plan file is needed.
func cmdRestore(a *app, args []string) error {
	fs := newFlags(a, "restore", "MANIFEST --to DSN")
	to := fs.String("to", "", "target database connection string (required); give the password via PGPASSWORD or ~/.pgpass rather than here")
	keyDir := fs.String("key-dir", "", "dir key store holding the backup's key (active or retired)")
	var identities multiFlag
	fs.Var(&identities, "identity", "age identity `file` (repeatable), instead of --key-dir")
	create := fs.Bool("create", false, "create the target database when it does not exist")
	stateDir := fs.String("state-dir", ".sluice", "where run folders and reports are written")
	logFormat := fs.String("log-format", "auto", "log format: auto, human or json")
	printPlan := fs.Bool("print-plan", false, "print the derived plan and run nothing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("restore takes one manifest (NAME.manifest.json)")
	}
	if *to == "" && !*printPlan {
		return usagef("restore needs --to DSN")
	}
	if (*keyDir == "") == (len(identities) == 0) {
		return usagef("restore needs exactly one of --key-dir or --identity")
	}
	m, objectURL, err := readManifest(pos[0])
	if err != nil {
		return err
	}
	src, err := restorePlan(m, objectURL, *keyDir, identities, *create)
	if err != nil {
		return err
	}
	if *printPlan {
		_, err := a.stdout.Write(src)
		return err
	}
	plan, err := runner.Load("restore of "+pos[0], src, steps.Builtin())
	if err != nil {
		return fmt.Errorf("deriving the restore plan from %s: %w", pos[0], err)
	}
	a.teach(*to)
	logger, err := a.logger(*logFormat, "info")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	values := map[string]any{"target": *to}
	report, err := runner.Run(ctx, plan, runner.RunOptions{
		Params: values, Secrets: runner.SecretValues(plan, values), StateDir: *stateDir, Logger: logger,
	})
	if report != nil {
		fmt.Fprintf(a.stdout, "restore %s: %s/runs/%s/report.json\n", report.Status, *stateDir, report.RunID)
	}
	return err
}

// readManifest reads a manifest by path or URL and returns it with the URL
// of the object it describes.
func readManifest(arg string) (*manifest.Manifest, string, error) {
	if !strings.HasSuffix(arg, ".manifest.json") {
		return nil, "", usagef("%s is not a manifest (NAME.manifest.json)", arg)
	}
	backend, name, err := blob.Open(arg)
	if err != nil {
		return nil, "", err
	}
	r, err := backend.Open(context.Background(), name)
	if err != nil {
		return nil, "", fmt.Errorf("reading manifest: %w", err)
	}
	defer r.Close()
	m, err := manifest.Read(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("reading manifest %s: %w", arg, err)
	}
	object := strings.TrimSuffix(arg, ".manifest.json")
	return m, object, nil
}

// planStep is one step of a derived plan, in the plan file's shape.
type planStep struct {
	Type  string         `yaml:"type"`
	Input string         `yaml:"input,omitempty"`
	With  map[string]any `yaml:"with,omitempty"`
}

// restorePlan inverts the manifest's stages: the last stage is undone first.
func restorePlan(m *manifest.Manifest, objectURL, keyDir string, identities []string, create bool) ([]byte, error) {
	if m.Source == nil || m.Source.Type != "dump" {
		return nil, fmt.Errorf("manifest of %s: not a database backup (its source is not a dump step)", objectURL)
	}
	stepsOut := map[string]planStep{"download": {Type: "download", With: map[string]any{"from": objectURL}}}
	prev := "download"
	for i := len(m.Stages) - 1; i >= 1; i-- {
		st := m.Stages[i]
		var inv planStep
		switch st.Type {
		case "checksum":
			continue // download verifies the digest recorded in the manifest
		case "encrypt":
			inv = planStep{Type: "decrypt", With: map[string]any{"expected_key_ids": st.Outputs["key_ids"]}}
			if keyDir != "" {
				inv.With["key"] = "store"
			} else {
				inv.With["identities"] = identities
			}
		case "compress":
			inv = planStep{Type: "decompress", With: map[string]any{"algorithm": st.Outputs["algorithm"]}}
		default:
			return nil, fmt.Errorf("manifest of %s: stage %q has type %q, which restore cannot invert", objectURL, st.ID, st.Type)
		}
		inv.Input = prev
		prev = inv.Type
		stepsOut[prev] = inv
	}
	format := m.Source.Format
	if format == "" {
		format = "auto"
	}
	stepsOut["restore"] = planStep{Type: "restore", Input: prev, With: map[string]any{
		"url": "${{ params.target }}", "format": format, "create": create,
	}}
	plan := map[string]any{
		"version":     1,
		"name":        "restore",
		"description": "restore " + objectURL + " (derived from its manifest)",
		"params":      map[string]any{"target": map[string]any{"type": "string", "secret": true, "required": true}},
		"steps":       stepsOut,
	}
	if keyDir != "" {
		plan["keys"] = map[string]any{"store": map[string]any{"store": "dir", "path": keyDir}}
	}
	return yaml.Marshal(plan)
}
