package steps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
)

func restoreDefinition() runner.Definition {
	return runner.Definition{
		Type:    "restore",
		Kind:    runner.KindSink,
		Summary: "Restore a pg_dump stream with pg_restore or psql into a database or a throwaway cluster, then run verification queries",
		New:     func() any { return &Restore{} },
		Outcome: restoreOutcome,
		Outputs: []runner.OutputSpec{
			{Name: "duration", Type: "duration", Doc: "time the restore took, verification included"},
			{Name: "database", Type: "string", Doc: "name of the database restored into"},
			{Name: "verify", Type: "map", Doc: "result of each verify query by name (steps.<id>.verify.<name>)"},
			{Name: "tables", Type: "int", Doc: "user tables in the target database after the restore"},
			{Name: "rows", Type: "int", Doc: "rows over every user table after the restore"},
			{Name: "fingerprint", Type: "string", Doc: "digest of every user table's rows; equal to the source's postgres.fingerprint when the content matches"},
			{Name: "format", Type: "string", Doc: "format restored: custom or plain"},
			{Name: "parts", Type: "int", Doc: "for a backup in parts: the parts restored, each a pg_restore of its own", Conditional: true},
		},
	}
}

// restoreOutcome says what was restored where, and what reading it back
// found: the counts and fingerprint gates compare with the source.
func restoreOutcome(o runner.Outputs) string {
	db := o.String("database")
	if db == "" {
		return ""
	}
	line := fmt.Sprintf("restored a %s dump into database %q", o.String("format"), db)
	if n := o.Int("parts"); n > 0 {
		line = fmt.Sprintf("restored a %s dump in %d parts into database %q", o.String("format"), n, db)
	}
	if _, read := o["tables"]; !read {
		return line + " (not read back: skip_checks)"
	}
	line += fmt.Sprintf(": %d table%s, %d row%s", o.Int("tables"), runner.Plural(o.Int("tables")), o.Int("rows"), runner.Plural(o.Int("rows")))
	if fp := o.String("fingerprint"); fp != "" {
		line += ", fingerprint " + fp[:min(len(fp), 16)]
	}
	if v, ok := o["verify"].(map[string]any); ok && len(v) > 0 {
		line += "; verify " + mapText(v)
	}
	return line
}

// Restore is the parameter struct of the restore step, a sink that feeds a
// dump to pg_restore (custom format) or psql (plain format).
type Restore struct {
	URL               string            `yaml:"url" doc:"target connection string; give url or target"`
	Target            string            `yaml:"target" enum:"ephemeral" doc:"ephemeral: start a throwaway PostgreSQL cluster, restore into it, verify, and remove it"`
	Database          string            `yaml:"database" default:"restore" doc:"database to restore into inside an ephemeral target"`
	Format            string            `yaml:"format" default:"custom" enum:"custom,plain,auto" doc:"custom (pg_restore), plain (psql), or auto (detected from the PGDMP header)"`
	Create            bool              `yaml:"create" doc:"create the target database when it does not exist, and drop it again when the restore fails or is interrupted"`
	Clean             bool              `yaml:"clean" doc:"drop existing objects before restoring them (custom format only: pg_restore --clean --if-exists)"`
	SingleTransaction bool              `yaml:"single_transaction" default:"true" doc:"restore in one transaction, so a failed or truncated restore changes nothing"`
	Superuser         bool              `yaml:"superuser" doc:"ephemeral target: restore and verify as the cluster's superuser instead of a role that only owns the database; needed for untrusted extensions, event triggers and other superuser-only objects. Only for backups of a source you trust: the dump's functions then run with superuser rights"`
	Verify            map[string]string `yaml:"verify" doc:"name -> SQL returning one value; each result becomes the output verify.<name>"`
	SkipChecks        bool              `yaml:"skip_checks" doc:"end the step once the restore is committed, without reading the data back: no verify, and no outputs tables, rows or fingerprint (which count and digest every row)"`
	Args              []string          `yaml:"args" doc:"extra pg_restore or psql arguments (not the connection or input). Ephemeral targets add --no-owner --no-privileges for custom dumps"`
}

var (
	_ runner.Sink      = (*Restore)(nil)
	_ runner.Validator = (*Restore)(nil)
)

var reservedRestoreArgs = []string{"-f", "--file", "-F", "--format", "-d", "--dbname", "-h", "--host", "-p", "--port", "-U", "--username", "-W", "--password"}

// Validate checks that exactly one target is given and the format fits.
func (p *Restore) Validate() error {
	switch {
	case p.URL == "" && p.Target == "":
		return errors.New("url or target: give a target connection string (url) or target: ephemeral")
	case p.URL != "" && p.Target != "":
		return errors.New("url and target: give only one of them")
	case p.Superuser && p.Target == "":
		return errors.New("superuser: only for target: ephemeral (with url the restore runs as the url's role)")
	}
	if p.Format == "plain" && p.Clean {
		return errors.New("clean: only works with format custom; for a plain dump pass --clean to pg_dump (dump args)")
	}
	if p.SkipChecks && len(p.Verify) > 0 {
		return errors.New("verify: cannot run with skip_checks: true")
	}
	for name, q := range p.Verify {
		if name == "" || q == "" {
			return fmt.Errorf("verify: entry %q needs a name and a query", name)
		}
	}
	return pg.CheckArgs(p.Args, reservedRestoreArgs, "url, target and format")
}

// Consume restores r into the target (pg.Restore) and reads it back. An
// ephemeral target is removed before Consume returns, whatever happened.
func (p *Restore) Consume(ctx context.Context, sc *runner.StepContext, r io.Reader) (runner.Outputs, runner.Pending, error) {
	start := time.Now()
	dsn := p.URL
	committed := false
	if p.Target == "ephemeral" {
		var stop func()
		var err error
		dsn, stop, err = p.startEphemeral(ctx, sc.Logger)
		if err != nil {
			return nil, nil, fmt.Errorf("ephemeral target: %w", err)
		}
		defer stop()
	} else if p.Create {
		created, err := pg.EnsureDatabase(ctx, dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("creating target database: %w", err)
		}
		if created {
			// Until the restore is committed, a failure removes it again.
			defer func() {
				if !committed {
					p.dropCreated(dsn, sc.Logger)
				}
			}()
		}
	}
	info, err := pg.Preflight(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("target pre-flight: %w", err)
	}

	br := bufio.NewReaderSize(r, 64<<10)
	format, err := pg.SniffFormat(br, p.Format)
	if err != nil {
		return nil, nil, err
	}
	err = pg.Restore(ctx, dsn, br, pg.RestoreOptions{
		Format: format, Clean: p.Clean, SingleTransaction: p.SingleTransaction, Args: p.Args,
		// The source's roles do not exist in a fresh cluster.
		NoOwner:     p.Target == "ephemeral",
		Interrupted: p.interruptOutcome(),
	})
	if err != nil {
		if ctx.Err() != nil {
			sc.Logger.Warn("restore interrupted before it was committed", "outcome", p.interruptOutcome())
		}
		return nil, nil, err
	}
	committed = true
	out := runner.Outputs{}
	if !p.SkipChecks {
		if out, err = p.readBack(ctx, dsn); err != nil {
			if ctx.Err() != nil {
				sc.Logger.Warn("interrupted during the checks that follow the restore: the restore itself completed and is committed", "database", info.Database)
			}
			return nil, nil, fmt.Errorf("the restore into database %q completed and is committed, but checking it failed: %w", info.Database, err)
		}
	}
	out["duration"] = time.Since(start)
	out["database"] = info.Database
	out["format"] = format
	return out, runner.NothingPending, nil
}

// readBack runs the verify queries and fingerprints the target's user
// tables.
func (p *Restore) readBack(ctx context.Context, dsn string) (runner.Outputs, error) {
	values, err := pg.VerifyQueries(ctx, dsn, p.Verify)
	if err != nil {
		return nil, err
	}
	sums, err := pg.Fingerprint(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	return runner.Outputs{
		"verify": values, "tables": int64(len(sums)),
		"rows": pg.TotalRows(sums), "fingerprint": pg.FingerprintDigest(sums),
	}, nil
}

// interruptOutcome says what an interrupted load leaves in the target.
func (p *Restore) interruptOutcome() string {
	switch {
	case p.Target == "ephemeral":
		return "nothing: the throwaway cluster is removed"
	case p.SingleTransaction && p.Create:
		return "nothing: the single transaction is rolled back, and a database created by create: true is dropped"
	case p.SingleTransaction:
		return "nothing: the single transaction is rolled back"
	}
	return "the objects restored so far stay in the target (single_transaction is off)"
}

// dropCreated drops the database Consume created, after a failed restore.
// ctx may be over (an interrupt), so it gets its own time.
func (p *Restore) dropCreated(dsn string, logger hclog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pg.DropDatabase(ctx, dsn); err != nil {
		logger.Warn("the restore failed, but the database it created could not be dropped: drop it by hand", "error", err)
		return
	}
	logger.Info("the restore failed: dropped the database it created")
}

// restoreRole owns the database of an ephemeral target and runs its restore.
const restoreRole = "sluice_restore"

// startEphemeral starts a throwaway cluster with the target database and
// returns a DSN to it: as restoreRole, which owns the database and nothing
// else, unless Superuser. stop removes the cluster.
func (p *Restore) startEphemeral(ctx context.Context, logger hclog.Logger) (string, func(), error) {
	c, err := pg.StartCluster(ctx, pg.Options{Logger: logger})
	if err != nil {
		return "", nil, err
	}
	stop := func() {
		if err := c.Stop(); err != nil {
			logger.Warn("ephemeral target not fully removed", "error", err)
		}
	}
	var dsn string
	if p.Superuser {
		logger.Warn("restoring as the throwaway cluster's superuser (superuser: true): the backup's functions run with superuser rights")
		if err = c.CreateDB(ctx, p.Database); err == nil {
			dsn = c.DSN(p.Database)
		}
	} else {
		dsn, err = c.CreateOwnedDB(ctx, p.Database, restoreRole)
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	return dsn, stop, nil
}

// mapText renders the verify output as k=v pairs sorted by key.
func mapText(m map[string]any) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// A backup in parts restores part by part, each a pg_restore of its own
// (one transaction each), in the restore phases download gives: the schema
// before the data, the data parts at once (jobs), then indexes and
// constraints. Several transactions cannot be one, so all or nothing comes
// from the target instead: a database this restore created (create: true,
// dropped again when any part fails or the restore is interrupted) or a
// throwaway cluster. A database that already exists is refused.

var _ runner.PartedSink = (*Restore)(nil)

// ConsumeParts implements runner.PartedSink: it makes the target before
// anything streams.
func (p *Restore) ConsumeParts(ctx context.Context, sc *runner.StepContext, parts []runner.Part) (runner.PartConsumer, error) {
	switch {
	case p.Format == "plain":
		return nil, errors.New("format: a backup in parts holds pg_restore archives: use format custom or auto")
	case p.Clean:
		return nil, errors.New("clean: a backup in parts is restored into a database the restore creates, which holds nothing to clean: remove clean")
	}
	rp := &restoreParts{p: p, sc: sc, start: time.Now(), dsn: p.URL}
	switch {
	case p.Target == "ephemeral":
		dsn, stop, err := p.startEphemeral(ctx, sc.Logger)
		if err != nil {
			return nil, fmt.Errorf("ephemeral target: %w", err)
		}
		rp.dsn, rp.stop = dsn, stop
	case p.Create:
		created, err := pg.EnsureDatabase(ctx, p.URL)
		if err != nil {
			return nil, fmt.Errorf("creating target database: %w", err)
		}
		if !created {
			return nil, errors.New("the target database exists: a backup in parts is restored in several transactions (schema, data parts, then indexes and constraints), and only dropping the database can undo a failure half-way; restore into a database that does not exist yet, which create: true (sluice restore --create) makes")
		}
		rp.created = true
	default:
		return nil, errors.New("a backup in parts is restored in several transactions, and only dropping the database can undo a failure half-way: set create: true (sluice restore --create) and name a database that does not exist yet, or use target: ephemeral")
	}
	info, err := pg.Preflight(ctx, rp.dsn)
	if err != nil {
		rp.Abort()
		return nil, fmt.Errorf("target pre-flight: %w", err)
	}
	rp.database = info.Database
	sc.Logger.Info("restoring a backup in parts", "database", info.Database, "parts", len(parts))
	return rp, nil
}

// restoreParts restores the parts of one backup into one target.
type restoreParts struct {
	p        *Restore
	sc       *runner.StepContext
	start    time.Time
	dsn      string
	database string
	stop     func() // removes an ephemeral target
	created  bool   // the database was made by this restore: a failure drops it

	once     sync.Once
	restored bool // every part restored: nothing is undone any more
}

// Consume restores one part (a custom-format archive) in one transaction.
func (rp *restoreParts) Consume(ctx context.Context, sc *runner.StepContext, part runner.Part, r io.Reader) (runner.Outputs, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if _, err := pg.SniffFormat(br, "custom"); err != nil {
		return nil, err
	}
	start := time.Now()
	err := pg.Restore(ctx, rp.dsn, br, pg.RestoreOptions{
		Format: "custom", SingleTransaction: rp.p.SingleTransaction, Args: rp.p.Args,
		NoOwner:     rp.p.Target == "ephemeral",
		Interrupted: rp.interruptOutcome(),
	})
	if err != nil {
		return nil, err
	}
	return runner.Outputs{"duration": time.Since(start)}, nil
}

// Finish reads the target back (unless skip_checks) once every part is
// restored; an ephemeral target is removed after.
func (rp *restoreParts) Finish(ctx context.Context, parts []runner.PartResult) (runner.Outputs, runner.Pending, error) {
	rp.restored = true
	defer rp.Abort()
	out := runner.Outputs{}
	if !rp.p.SkipChecks {
		var err error
		if out, err = rp.p.readBack(ctx, rp.dsn); err != nil {
			return nil, nil, fmt.Errorf("the restore of every part into database %q completed and is committed, but checking it failed: %w", rp.database, err)
		}
	}
	out["duration"] = time.Since(rp.start)
	out["database"] = rp.database
	out["format"] = "custom"
	out["parts"] = int64(len(parts))
	return out, runner.NothingPending, nil
}

// Abort undoes the restore unless every part was restored (drops a
// database it created), and removes an ephemeral target. Only the first
// call acts.
func (rp *restoreParts) Abort() error {
	rp.once.Do(func() {
		if rp.created && !rp.restored {
			rp.p.dropCreated(rp.dsn, rp.sc.Logger)
		}
		if rp.stop != nil {
			rp.stop()
		}
	})
	return nil
}

// interruptOutcome says what an interrupted restore of parts leaves.
func (rp *restoreParts) interruptOutcome() string {
	if rp.stop != nil {
		return "nothing: the throwaway cluster is removed"
	}
	return "nothing: the database this restore created is dropped"
}
