package pg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/sluice-dev/sluice/steps/command"
)

// customMagic starts every pg_dump custom-format archive.
var customMagic = []byte("PGDMP")

// plainTrailer ends every complete plain-format dump.
var plainTrailer = []byte("PostgreSQL database dump complete")

// SniffFormat checks the first bytes of a dump against want (custom, plain
// or auto) and returns the format to restore, custom or plain. It only
// peeks: br still holds every byte.
func SniffFormat(br *bufio.Reader, want string) (string, error) {
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

// RestoreOptions says how Restore loads a dump.
type RestoreOptions struct {
	// Format is custom (pg_restore) or plain (psql), as SniffFormat says.
	Format string
	// NoOwner restores a custom dump without its owners and privileges
	// (--no-owner --no-privileges), for a target without the source's roles.
	NoOwner bool
	// Clean drops the dump's objects before restoring them (custom format).
	Clean bool
	// SingleTransaction makes the restore all or nothing.
	SingleTransaction bool
	// Args are extra pg_restore or psql arguments (see CheckArgs).
	Args []string
	// Interrupted says what an interrupted restore leaves in the target, for
	// the error that reports it.
	Interrupted string
}

// Restore feeds a dump to pg_restore (custom format) or psql (plain
// format) against dsn. psql reads a plain dump in restricted mode
// (RestrictedScript), so none of its backslash commands runs; with
// SingleTransaction, inside a transaction committed only when pg_dump's
// completion trailer arrived, so that a truncated plain stream changes
// nothing. An error of r (the upstream step) aborts the restore.
func Restore(ctx context.Context, dsn string, r io.Reader, o RestoreOptions) error {
	var tool Tool
	var err error
	var args []string
	if o.Format == "custom" {
		tool, err = FindTool("pg_restore", "postgresql-client", Version{})
		args = []string{"--exit-on-error"}
		if o.NoOwner {
			args = append(args, "--no-owner", "--no-privileges")
		}
		if o.Clean {
			args = append(args, "--clean", "--if-exists")
		}
		if o.SingleTransaction {
			args = append(args, "--single-transaction")
		}
	} else {
		tool, err = FindTool("psql", "postgresql-client", Version{})
		if err == nil {
			err = CheckRestrict(tool.Version)
		}
		args = []string{"--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--output=/dev/null"}
	}
	if err != nil {
		return err
	}
	script := r
	if o.Format == "plain" {
		// No backslash command of the dump runs: psql reads it restricted.
		key, err := NewRestrictKey()
		if err != nil {
			return err
		}
		script = RestrictedScript(r, key)
	}
	args = append(args, o.Args...)
	cmd, cleanup, err := ClientCmd(ctx, tool, dsn, args...)
	if err != nil {
		return err
	}
	defer cleanup()
	stderr := NewToolLog()
	cmd.Stderr = stderr
	if o.Format == "plain" {
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
	plainTx := o.Format == "plain" && o.SingleTransaction
	var writeErr error
	if plainTx {
		_, writeErr = io.WriteString(stdin, "BEGIN;\n")
	}
	var n int64
	var readErr error
	if writeErr == nil {
		n, readErr, writeErr = feed(stdin, script, tail)
	}
	complete := o.Format != "plain" || bytes.Contains([]byte(tail.String()), plainTrailer)
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
		return fmt.Errorf("%s stopped after %d bytes, %s: %w", tool.Name, n, o.Interrupted, context.Cause(ctx))
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
