package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
)

func dumpDefinition() runner.Definition {
	return runner.Definition{
		Type:    "dump",
		Kind:    runner.KindSource,
		Summary: "Dump a PostgreSQL database with pg_dump (custom or plain format) as a stream, after a pre-flight check with pgx",
		New:     func() any { return &Dump{} },
		Outputs: []runner.OutputSpec{
			{Name: "bytes", Type: "int", Doc: "bytes pg_dump wrote"},
			{Name: "duration", Type: "duration", Doc: "time pg_dump ran"},
			{Name: "server_version", Type: "string", Doc: "PostgreSQL server version, e.g. 15.13"},
			{Name: "database", Type: "string", Doc: "name of the dumped database"},
			{Name: "format", Type: "string", Doc: "custom or plain"},
			{Name: "size_bytes", Type: "int", Doc: "database size reported by the server before the dump (pg_database_size)"},
			{Name: "parts", Type: "int", Doc: "with jobs above 1: the parts dumped from one snapshot, each stored as an object of its own; absent for one stream", Conditional: true},
		},
		Plaintext: true,
	}
}

// Dump is the parameter struct of the dump step, a source that runs pg_dump.
type Dump struct {
	URL            string   `yaml:"url" required:"true" doc:"connection string (postgres://user:pass@host:port/db or key=value); usually a secret param. The password reaches pg_dump through PGPASSWORD, never its command line"`
	Format         string   `yaml:"format" default:"custom" enum:"custom,plain" doc:"custom (for pg_restore) or plain (SQL for psql)"`
	Schemas        []string `yaml:"schemas" doc:"dump only these schemas (pg_dump --schema, patterns allowed)"`
	ExcludeSchemas []string `yaml:"exclude_schemas" doc:"leave out these schemas (pg_dump --exclude-schema)"`
	Tables         []string `yaml:"tables" doc:"dump only these tables (pg_dump --table, patterns allowed)"`
	ExcludeTables  []string `yaml:"exclude_tables" doc:"leave out these tables (pg_dump --exclude-table)"`
	Args           []string `yaml:"args" doc:"extra pg_dump arguments (not the output file, format or connection)"`
	Compress       int      `yaml:"compress" default:"0" doc:"pg_dump's own compression level 0-9; 0 because sluice's compress step compresses better and faster. With format plain, a level above 0 makes pg_dump write gzip"`
	Jobs           int      `yaml:"jobs" default:"1" doc:"pg_dump processes at once: above 1, the database is dumped from one exported snapshot in parts (schema before the data, the tables' rows largest first, schema after the data), each streamed through the steps that follow into an object of its own, committed together under one manifest. Needs format custom and the whole database; memory is about jobs times that of one stream"`
}

var (
	_ runner.Source       = (*Dump)(nil)
	_ runner.PartedSource = (*Dump)(nil)
	_ runner.Validator    = (*Dump)(nil)
)

// reservedDumpArgs are pg_dump options that args must not set: sluice owns
// the output, its format and the connection.
var reservedDumpArgs = []string{"-f", "--file", "-F", "--format", "-d", "--dbname", "-h", "--host", "-p", "--port", "-U", "--username", "-W", "--password", "-Z", "--compress"}

// Validate checks the URL, the compression level and args.
func (d *Dump) Validate() error {
	if d.URL == "" {
		return errors.New("url: a connection string is required")
	}
	if d.Compress < 0 || d.Compress > 9 {
		return fmt.Errorf("compress: %d is not a level from 0 to 9", d.Compress)
	}
	if err := d.validateJobs(); err != nil {
		return err
	}
	return pg.CheckArgs(d.Args, reservedDumpArgs, "format, compress and url")
}

// preflight checks the database with a pre-flight connection and picks a
// pg_dump at least as new as the server.
func (d *Dump) preflight(ctx context.Context) (pg.Info, pg.Tool, error) {
	info, err := pg.Preflight(ctx, d.URL)
	if err != nil {
		return pg.Info{}, pg.Tool{}, fmt.Errorf("pre-flight: %w", err)
	}
	tool, err := pg.FindTool("pg_dump", "postgresql-client", info.Version())
	return info, tool, err
}

// Produce checks the database with a pre-flight connection, picks a pg_dump
// at least as new as the server and streams its output to w (pg.Dump).
func (d *Dump) Produce(ctx context.Context, sc *runner.StepContext, w io.Writer) (runner.Outputs, error) {
	info, tool, err := d.preflight(ctx)
	if err != nil {
		return nil, err
	}
	args := []string{"--format=" + d.Format, "--compress=" + strconv.Itoa(d.Compress)}
	for _, opt := range []struct {
		flag string
		vals []string
	}{{"--schema=", d.Schemas}, {"--exclude-schema=", d.ExcludeSchemas}, {"--table=", d.Tables}, {"--exclude-table=", d.ExcludeTables}} {
		for _, v := range opt.vals {
			args = append(args, opt.flag+v)
		}
	}
	args = append(args, d.Args...)
	if sc.ExpectBytes != nil {
		// The size on disk, indexes included: a rough guide to the dump's.
		sc.ExpectBytes(info.SizeBytes)
	}
	sc.Logger.Info("dumping", "database", info.Database, "server", info.ServerVersion, "size_bytes", info.SizeBytes, "pg_dump", tool.Version.Text, "format", d.Format)

	start := time.Now()
	n, err := pg.Dump(ctx, tool, d.URL, w, args...)
	if err != nil {
		return nil, err
	}
	return runner.Outputs{
		"bytes": n, "duration": time.Since(start), "server_version": info.ServerVersion,
		"database": info.Database, "format": d.Format, "size_bytes": info.SizeBytes,
	}, nil
}

// With jobs above 1, dump is a source in parts (runner.PartedSource): it
// exports one snapshot (pg.ExportSnapshot), splits the database
// (pg.PlanDump) and streams each part from a pg_dump of its own, started
// with --snapshot, jobs at once; every step after it runs once per part,
// and the upload stores each part as an object of its own under one
// manifest. pg_dump's own --jobs needs its directory format, which writes
// the plaintext to disk; this does not.

// maxDumpJobs bounds jobs: each job is a pg_dump process and a server
// backend.
const maxDumpJobs = 64

// partLockWait is how long a part's pg_dump waits for the lock on a table
// (--lock-wait-timeout). The snapshot's transaction holds a lock on every
// table, so a statement that wants one exclusively (ALTER, DROP,
// TRUNCATE) waits for the whole dump, and a part that starts after it
// queued would wait behind it for ever: it fails instead, and the backup
// with it, unless the statement gives up first (its lock_timeout).
const partLockWait = 30 * time.Second

// selectingDumpArgs are pg_dump options that choose what is dumped, which
// a dump in parts decides itself.
var selectingDumpArgs = []string{"-a", "--data-only", "-s", "--schema-only", "--section", "-t", "--table", "-T", "--exclude-table",
	"-n", "--schema", "-N", "--exclude-schema", "--exclude-table-data", "--snapshot", "-j", "--jobs", "--serializable-deferrable",
	"--table-and-children", "--exclude-table-and-children", "--exclude-table-data-and-children", "--strict-names",
	"-b", "--blobs", "-B", "--no-blobs", "--large-objects", "--no-large-objects",
	"--filter", "-e", "--extension", "--exclude-extension"}

// validateJobs checks what a dump in parts needs.
func (d *Dump) validateJobs() error {
	switch {
	case d.Jobs < 0 || d.Jobs > maxDumpJobs:
		return fmt.Errorf("jobs: %d is not from 1 to %d", d.Jobs, maxDumpJobs)
	case d.Jobs <= 1:
		return nil
	case d.Format != "custom":
		return fmt.Errorf("jobs: a dump in parts is restored with pg_restore: set format: custom (not %s), or jobs: 1", d.Format)
	case len(d.Schemas)+len(d.ExcludeSchemas)+len(d.Tables)+len(d.ExcludeTables) > 0:
		return fmt.Errorf("jobs: a dump in parts dumps the whole database: remove schemas, exclude_schemas, tables and exclude_tables, or set jobs: 1")
	}
	for _, a := range d.Args {
		for _, s := range selectingDumpArgs {
			if pg.SetsOption(a, s) {
				return fmt.Errorf("args: with jobs above 1 sluice chooses what each pg_dump dumps: remove %q, or set jobs: 1", a)
			}
		}
	}
	return nil
}

// dumpPartStarting, when set (by tests), is called as each part's pg_dump
// is about to start.
var dumpPartStarting func(ctx context.Context, label string) error

// Parts implements runner.PartedSource: nil with jobs: 1 (one pg_dump,
// one stream), else the parts of one snapshot. The snapshot's transaction
// stays open until the last part ended (Close).
func (d *Dump) Parts(ctx context.Context, sc *runner.StepContext) (*runner.Parts, error) {
	if d.Jobs <= 1 {
		return nil, nil
	}
	start := time.Now()
	info, tool, err := d.preflight(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := pg.ExportSnapshot(ctx, d.URL)
	if err != nil {
		return nil, fmt.Errorf("exporting a snapshot for the parts: %w", err)
	}
	plan := pg.PlanDump(snap.Tables, d.Jobs)
	byLabel := make(map[string]pg.DumpPart, len(plan))
	var list []runner.Part
	for _, p := range pg.StartOrder(plan) {
		byLabel[p.Label] = p
		// The phases matter to a restore that takes the parts straight
		// from here (a drill): schema, then data, then indexes and
		// constraints. A backup only waits for the short schema dumps.
		list = append(list, runner.Part{Name: p.Label, Phase: p.RestorePhase, Info: map[string]any{
			"section": p.Section, "restore_phase": int64(p.RestorePhase), "tables": int64(len(p.Tables)),
		}})
	}
	sc.Logger.Info("dumping in parts from one snapshot", "database", info.Database, "server", info.ServerVersion,
		"tables", len(snap.Tables), "parts", len(plan), "jobs", d.Jobs, "pg_dump", tool.Version.Text)
	var closeOnce sync.Once
	var closeErr error
	return &runner.Parts{
		List: list,
		Jobs: d.Jobs,
		Produce: func(ctx context.Context, sc *runner.StepContext, part runner.Part, w io.Writer) (runner.Outputs, error) {
			return d.producePart(ctx, sc, tool, snap.ID, byLabel[part.Name], w)
		},
		Finish: func(parts []runner.Outputs) runner.Outputs {
			var n int64
			for _, p := range parts {
				n += p.Int("bytes")
			}
			return runner.Outputs{
				"bytes": n, "duration": time.Since(start), "server_version": info.ServerVersion,
				"database": info.Database, "format": "custom", "size_bytes": info.SizeBytes, "parts": int64(len(parts)),
			}
		},
		Close: func() error {
			closeOnce.Do(func() { closeErr = snap.Close() })
			return closeErr
		},
	}, nil
}

// producePart runs the pg_dump of one part and streams its archive to w.
func (d *Dump) producePart(ctx context.Context, sc *runner.StepContext, tool pg.Tool, snapshot string, p pg.DumpPart, w io.Writer) (runner.Outputs, error) {
	if dumpPartStarting != nil {
		if err := dumpPartStarting(ctx, p.Label); err != nil {
			return nil, err
		}
	}
	args := []string{"--format=custom", "--compress=" + strconv.Itoa(d.Compress)}
	if !hasArg(d.Args, "--lock-wait-timeout") {
		args = append(args, fmt.Sprintf("--lock-wait-timeout=%dms", partLockWait.Milliseconds()))
	}
	args = append(append(args, p.Args(snapshot)...), d.Args...)
	start := time.Now()
	n, err := pg.Dump(ctx, tool, d.URL, w, args...)
	if err != nil {
		return nil, err
	}
	sc.Logger.Debug("part dumped", "part", p.Label, "section", p.Section, "tables", len(p.Tables), "bytes", n, "seconds", time.Since(start).Seconds())
	return runner.Outputs{"bytes": n, "duration": time.Since(start)}, nil
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		if n, _, _ := strings.Cut(a, "="); n == name {
			return true
		}
	}
	return false
}
