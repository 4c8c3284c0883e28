package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/pg"
)

// restoreCommand restores a backup from its manifest (named directly or found
// next to the backup object): it derives the inverse
// pipeline (download, decrypt, decompress, restore) from the recorded
// stages as typed step parameters and runs it, so no plan file is needed.
// No value of the manifest is ever evaluated as an expression.
func restoreCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "restore BACKUP|MANIFEST --to DSN", Short: "restore a backup from the object or its manifest, no plan needed"}
	fs := c.Flags()
	to := fs.String("to", "", "target database connection string (required); give the password via PGPASSWORD or ~/.pgpass rather than here")
	keyDir := fs.String("key-dir", "", "dir key store holding the backup's key (active or retired)")
	var identities multiFlag
	fs.Var(&identities, "identity", "age identity `file` (repeatable), instead of --key-dir")
	create := fs.Bool("create", false, "create the target database when it does not exist (and drop it again when the restore fails)")
	clean := fs.Bool("clean", false, "drop the backup's objects from the target before restoring them (custom format: pg_restore --clean --if-exists)")
	printPlan := fs.Bool("print-plan", false, "print the derived pipeline as a plan and run nothing")
	jobs := fs.Int("jobs", 1, "for a backup in parts: parts restored at once (the data parts; the schema goes first and the indexes and constraints last)")
	tf := addTrustFlags(fs, keyDir)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return usagef("restore takes one backup: the object (NAME.dump.zst.age) or its manifest (NAME.manifest.json), by path or URL")
		}
		if *to == "" && !*printPlan {
			return usagef("restore needs --to DSN")
		}
		if (*keyDir == "") == (len(identities) == 0) {
			return usagef("restore needs exactly one of --key-dir or --identity")
		}
		trust, err := tf.trust(a)
		if err != nil {
			return err
		}
		signers := *tf.verifyKeys
		if signers == "" {
			signers = *keyDir
		}
		if fi, err := os.Stat(signers); signers != "" && (err != nil || !fi.IsDir()) {
			return usagef("restore: --verify-keys must be a key store folder (the restore's download checks the signature again with it)")
		}
		m, objectURL, err := readManifest(pos[0], trust)
		if err != nil {
			return err
		}
		spec, err := deriveRestore(m, objectURL)
		if err != nil {
			return err
		}
		if *jobs < 1 {
			return usagef("restore: --jobs must be 1 or more")
		}
		if spec.parts > 0 && (!*create || *clean) {
			return usagef("restore: %s is a backup in %d parts, restored in several transactions: only dropping the database undoes a failure half-way, so it is restored into a database that does not exist yet: pass --create (and not --clean)", objectURL, spec.parts)
		}
		spec.keyDir, spec.identities, spec.create, spec.clean, spec.jobs = *keyDir, identities, *create, *clean, *jobs
		spec.signers, spec.allowUnsigned = signers, trust.AllowUnsigned
		if *printPlan {
			src, err := spec.planYAML()
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(src)
			return err
		}
		plan, err := spec.build(steps.Builtin(), *to)
		if err != nil {
			return fmt.Errorf("deriving the restore pipeline from %s: %w", pos[0], err)
		}
		if err := spec.checkKeys(); err != nil {
			return err
		}
		secrets := []string{*to}
		if _, s, err := pg.SplitSecrets(*to); err == nil {
			secrets = append(secrets, s.Password, s.SSLPassword)
		}
		a.teach(secrets...)
		out := a.runOutput()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		report, err := runner.Run(ctx, plan, runner.RunOptions{Secrets: secrets, StateDir: a.globals.stateDir, Logger: out.logger, Progress: out.progress})
		out.close()
		if report != nil {
			fmt.Fprintf(a.stdout, "restore %s: %s/runs/%s/report.json\n", report.Status, a.globals.stateDir, report.RunID)
		}
		var ce *pg.ConnError
		switch {
		case errors.As(err, &ce) && ce.Kind == pg.KindNoDatabase && !*create:
			return fmt.Errorf("%w (or pass --create)", err)
		case errors.Is(err, runner.ErrInterrupted):
			// The restore is one transaction, committed last: stopped before
			// that, it restored nothing; a database --create made is dropped.
			what := "nothing was restored: its single transaction was rolled back"
			if *create {
				what += ", and a database --create made is dropped unless a warning above says it could not be"
			}
			if spec.parts > 0 {
				what = "nothing was restored: the database --create made is dropped unless a warning above says it could not be"
			}
			return fmt.Errorf("%w: %s", err, what)
		}
		return err
	}
	return c
}

// readManifest reads a backup's manifest through the signature gate
// (catalog.ReadManifest) and returns it with the URL of the object it
// describes. arg names the manifest (NAME.manifest.json) or the backup
// object itself (NAME), whose manifest lies next to it; both by path or URL.
func readManifest(arg string, trust catalog.Trust) (*manifest.Manifest, string, error) {
	object, isManifest := strings.CutSuffix(arg, manifest.ManifestName(""))
	if !isManifest {
		if owner, ok := catalog.MetaOwner(arg); ok {
			return nil, "", usagef("%s is not a backup but a file kept next to %s: pass the backup object or its manifest", arg, owner)
		}
		if owner, _, ok := manifest.PartOwner(arg); ok {
			return nil, "", usagef("%s is one part of the backup %s: pass the backup (%s) or its manifest, which restores every part", arg, owner, owner)
		}
	}
	backend, name, err := blob.Open(object)
	if err != nil {
		return nil, "", err
	}
	manifestURL := backend.URL(manifest.ManifestName(name))
	signed, err := catalog.ReadManifest(context.Background(), backend, name, trust)
	if err != nil {
		if !isManifest {
			return nil, "", fmt.Errorf("reading the manifest of backup %s: %w", arg, err)
		}
		return nil, "", fmt.Errorf("reading manifest %s: %w", arg, err)
	}
	if signed.Manifest == nil {
		if !isManifest {
			return nil, "", fmt.Errorf("backup %s has no manifest (%s), so nothing says how to restore it: restore it by hand (see docs/backups.md, Restore by hand) or pass its manifest", arg, manifestURL)
		}
		return nil, "", fmt.Errorf("reading manifest %s: it does not exist", arg)
	}
	return signed.Manifest, object, nil
}
