package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/sluice-dev/sluice/steps/command"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
	"github.com/sluice-dev/sluice/steps/pg"
)

// runDump runs pg_dump and copies its stdout to w. Any failure, including
// pg_dump being killed after a partial stream, is an error: the runner then
// closes the stream with it, so no consumer mistakes a cut dump for a
// complete one.
func runDump(ctx context.Context, cmd *exec.Cmd, w io.Writer) (int64, error) {
	stderr := command.NewTail(4 << 10)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("running pg_dump: %w", err)
	}
	// pg_dump writes in small pieces: a 1 MiB pipe and 256 KiB reads cut
	// the wake-ups on both sides (about 13% less CPU for the whole backup
	// on 2 cores; see README, Performance).
	streamio.GrowPipe(out, 1<<20)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("running pg_dump: %w", err)
	}
	cw := &countWriter{w: w}
	// struct{ io.Reader } hides *os.File's WriteTo, which would copy in
	// 32 KiB pieces whatever buffer is given.
	_, copyErr := io.CopyBuffer(cw, struct{ io.Reader }{out}, make([]byte, 256<<10))
	if copyErr != nil {
		// The consumer failed (or reading the pipe did): stop pg_dump now
		// rather than let it block on a full pipe.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return cw.n, fmt.Errorf("pg_dump stopped after %d bytes: %w", cw.n, context.Cause(ctx))
	case copyErr != nil && errors.Is(copyErr, errWriteSide):
		return cw.n, fmt.Errorf("writing the dump stream after %d bytes: %w", cw.n, errors.Unwrap(copyErr))
	case waitErr != nil:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) && !ee.Exited() {
			msg := fmt.Sprintf("pg_dump was killed (%s) after %d bytes; the dump is incomplete", ee.ProcessState, cw.n)
			if s := stderr.String(); strings.TrimSpace(s) != "" {
				msg += ": " + pg.LastLines(s, 3)
			}
			return cw.n, errors.New(msg)
		}
		return cw.n, fmt.Errorf("pg_dump failed (%v) after %d bytes: %s", waitErr, cw.n, pg.LastLines(stderr.String(), 5))
	case copyErr != nil:
		return cw.n, fmt.Errorf("reading pg_dump output after %d bytes: %w", cw.n, copyErr)
	}
	return cw.n, nil
}

var errWriteSide = errors.New("write side")

// countWriter counts bytes and marks write errors so they can be told apart
// from read errors after io.Copy.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		return n, writeErr{err}
	}
	return n, nil
}

type writeErr struct{ err error }

func (e writeErr) Error() string        { return e.err.Error() }
func (e writeErr) Unwrap() error        { return e.err }
func (e writeErr) Is(target error) bool { return target == errWriteSide }
