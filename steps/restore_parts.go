package steps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
)

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
