package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/sluice-dev/sluice/steps/command"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
)

// Dump runs tool (a pg_dump, see FindTool) with args against dsn (see
// ClientCmd) and copies its output to w, returning the bytes written. Any
// failure, including pg_dump being killed after a partial stream, is an
// error, so that no consumer mistakes a cut dump for a complete one.
func Dump(ctx context.Context, tool Tool, dsn string, w io.Writer, args ...string) (int64, error) {
	cmd, cleanup, err := ClientCmd(ctx, tool, dsn, args...)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	stderr := command.NewTail(4 << 10)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("running pg_dump: %w", err)
	}
	// pg_dump writes in small pieces: a 1 MiB pipe and 256 KiB reads cut
	// the wake-ups on both sides (about 13% less CPU for the whole backup
	// on 2 cores; see docs/performance.md).
	streamio.GrowPipe(out, 1<<20)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("running pg_dump: %w", err)
	}
	cw := streamio.NewWriter(w)
	// struct{ io.Reader } hides *os.File's WriteTo, which would copy in
	// 32 KiB pieces whatever buffer is given.
	_, copyErr := io.CopyBuffer(cw, struct{ io.Reader }{out}, make([]byte, 256<<10))
	if copyErr != nil {
		// The consumer failed (or reading the pipe did): stop pg_dump now
		// rather than let it block on a full pipe.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	n := cw.N()
	switch {
	case ctx.Err() != nil:
		return n, fmt.Errorf("pg_dump stopped after %d bytes: %w", n, context.Cause(ctx))
	case copyErr != nil && cw.SinkErr() != nil:
		return n, fmt.Errorf("writing the dump stream after %d bytes: %w", n, cw.SinkErr())
	case waitErr != nil:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) && !ee.Exited() {
			msg := fmt.Sprintf("pg_dump was killed (%s) after %d bytes; the dump is incomplete", ee.ProcessState, n)
			if s := stderr.String(); strings.TrimSpace(s) != "" {
				msg += ": " + LastLines(s, 3)
			}
			return n, errors.New(msg)
		}
		return n, fmt.Errorf("pg_dump failed (%v) after %d bytes: %s", waitErr, n, LastLines(stderr.String(), 5))
	case copyErr != nil:
		return n, fmt.Errorf("reading pg_dump output after %d bytes: %w", n, copyErr)
	}
	return n, nil
}
