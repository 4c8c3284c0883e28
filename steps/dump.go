package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// Produce checks the database with a pre-flight connection, picks a pg_dump
// at least as new as the server and streams its output to w (pg.Dump).
func (d *Dump) Produce(ctx context.Context, sc *runner.StepContext, w io.Writer) (runner.Outputs, error) {
	info, err := pg.Preflight(ctx, d.URL)
	if err != nil {
		return nil, fmt.Errorf("pre-flight: %w", err)
	}
	tool, err := pg.FindTool("pg_dump", "postgresql-client", info.Version())
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
