package steps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/command"
	"github.com/sluice-dev/sluice/steps/pg"
)

// customMagic starts every pg_dump custom-format archive.
var customMagic = []byte("PGDMP")

// plainTrailer ends every complete plain-format dump.
var plainTrailer = []byte("PostgreSQL database dump complete")

// sniffFormat checks the first bytes of the stream against want (custom,
// plain or auto) and returns the format to restore.
func sniffFormat(br *bufio.Reader, want string) (string, error) {
	head, err := br.Peek(len(customMagic))
	if err != nil && len(head) == 0 {
		if errors.Is(err, io.EOF) {
			return "", errors.New("input stream is empty: nothing to restore")
		}
		return "", fmt.Errorf("reading input stream (the upstream step failed): %w", err)
	}
	isCustom := bytes.Equal(head, customMagic)
	switch {
	case want == "auto" && isCustom, want == "custom" && isCustom:
		return "custom", nil
	case want == "custom":
		return "", errors.New("input is not a pg_dump custom-format archive (no PGDMP header): is it still compressed or encrypted, or a plain dump (format: plain)?")
	case isCustom:
		return "", errors.New("input is a pg_dump custom-format archive but format is plain: use format: custom or auto")
	default:
		return "plain", nil
	}
}

// run feeds br to pg_restore or psql. A plain dump runs inside a transaction
// the step commits only when pg_dump's completion trailer arrived, so a
// truncated plain stream changes nothing when single_transaction is on.
func (p *Restore) run(ctx context.Context, dsn, format string, extra []string, br *bufio.Reader) error {
	var tool pg.Tool
	var err error
	var args []string
	if format == "custom" {
		tool, err = pg.FindTool("pg_restore", "postgresql-client", pg.Version{})
		args = append([]string{"--exit-on-error"}, extra...)
		if p.Clean {
			args = append(args, "--clean", "--if-exists")
		}
		if p.SingleTransaction {
			args = append(args, "--single-transaction")
		}
	} else {
		tool, err = pg.FindTool("psql", "postgresql-client", pg.Version{})
		if err == nil {
			err = pg.CheckRestrict(tool.Version)
		}
		args = []string{"--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--output=/dev/null"}
	}
	if err != nil {
		return err
	}
	var script io.Reader = br
	if format == "plain" {
		// No backslash command of the dump runs: psql reads it restricted.
		key, err := pg.NewRestrictKey()
		if err != nil {
			return err
		}
		script = pg.RestrictedScript(br, key)
	}
	args = append(args, p.Args...)
	cmd, cleanup, err := pg.ClientCmd(ctx, tool, dsn, args...)
	if err != nil {
		return err
	}
	defer cleanup()
	stderr := pg.NewToolLog()
	cmd.Stderr = stderr
	if format == "plain" {
		cmd.Stdout = stderr // psql prints errors and notices; keep them for the message
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("running %s: %w", tool.Name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", tool.Name, err)
	}
	tail := command.NewTail(256)
	plainTx := format == "plain" && p.SingleTransaction
	var writeErr error
	if plainTx {
		_, writeErr = io.WriteString(stdin, "BEGIN;\n")
	}
	var n int64
	var readErr error
	if writeErr == nil {
		n, readErr, writeErr = feed(stdin, script, tail)
	}
	complete := format != "plain" || bytes.Contains([]byte(tail.String()), plainTrailer)
	if readErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("input stream failed after %d bytes, restore aborted (the upstream step failed): %w", n, readErr)
	}
	if plainTx && complete && writeErr == nil && ctx.Err() == nil {
		_, writeErr = io.WriteString(stdin, "\nCOMMIT;\n")
	}
	_ = stdin.Close()
	waitErr := cmd.Wait()
	switch {
	case waitErr == nil && writeErr == nil && complete:
		// The tool committed: an interrupt now changes nothing.
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s stopped after %d bytes, %s: %w", tool.Name, n, p.interruptOutcome(), context.Cause(ctx))
	case waitErr != nil:
		return fmt.Errorf("%s failed (%v) after %d bytes of input: %s", tool.Name, exitText(waitErr), n, stderr.Summary(4))
	case writeErr != nil:
		return fmt.Errorf("writing to %s after %d bytes: %w", tool.Name, n, writeErr)
	case !complete:
		what := "the restored objects stay in the target"
		if plainTx {
			what = "nothing was committed"
		}
		return fmt.Errorf("plain dump ended after %d bytes without pg_dump's completion trailer: the stream is truncated; %s", n, what)
	}
	return nil
}

// feed copies br to w, keeping the stream's end in tail, and reports read
// and write errors apart.
func feed(w io.Writer, br io.Reader, tail *command.Tail) (n int64, readErr, writeErr error) {
	buf := make([]byte, 64<<10)
	for {
		k, err := br.Read(buf)
		if k > 0 {
			tail.Write(buf[:k])
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, nil, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}

func nopLogger(sc *runner.StepContext) hclog.Logger {
	if sc != nil && sc.Logger != nil {
		return sc.Logger
	}
	return hclog.NewNullLogger()
}
