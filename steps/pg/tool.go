package pg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ClientCmd returns a command that runs a client tool (pg_dump, pg_restore,
// psql) with args against dsn. The DSN goes to --dbname without its secrets,
// which never show in ps: the password travels in PGPASSWORD, a client key's
// passphrase (sslpassword) in a service file of a private temporary folder.
// --no-password stops the tool from prompting. Cancelling ctx kills the
// tool. Call cleanup once the command has ended.
func ClientCmd(ctx context.Context, tool Tool, dsn string, args ...string) (cmd *exec.Cmd, cleanup func(), err error) {
	rest, secrets, err := SplitSecrets(dsn)
	if err != nil {
		return nil, nil, err
	}
	env := os.Environ()
	cleanup = func() {}
	if secrets.SSLPassword != "" {
		var file string
		if rest, file, cleanup, err = serviceFile(rest, secrets.SSLPassword); err != nil {
			return nil, nil, err
		}
		env = append(env, "PGSERVICEFILE="+file)
	}
	all := append([]string{"--no-password"}, args...)
	all = append(all, "--dbname="+rest)
	cmd = exec.CommandContext(ctx, tool.Path, all...)
	if secrets.Password != "" {
		env = append(env, "PGPASSWORD="+secrets.Password) // the last value wins
	}
	if os.Getenv("PGAPPNAME") == "" {
		env = append(env, "PGAPPNAME=sluice")
	}
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd, cleanup, nil
}

// serviceFile writes sslpassword into a libpq service file (0600, in a new
// 0700 folder) and returns dsn naming that service, the file and how to
// remove it: libpq reads sslpassword from no environment variable.
func serviceFile(dsn, sslPassword string) (string, string, func(), error) {
	if strings.Contains(dsn, "service=") {
		return "", "", nil, errors.New("a connection string with both sslpassword and service cannot be handed to a client tool safely: put sslpassword in the service's entry")
	}
	if strings.ContainsAny(sslPassword, "\n\r") {
		return "", "", nil, errors.New("sslpassword holds a line break, which a libpq service file cannot carry")
	}
	dir, err := os.MkdirTemp("", "sluice-pgservice-")
	if err != nil {
		return "", "", nil, fmt.Errorf("creating a folder for the client key passphrase: %w", err)
	}
	remove := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "pg_service.conf")
	if err := os.WriteFile(file, []byte("[sluice]\nsslpassword="+sslPassword+"\n"), 0o600); err != nil {
		remove()
		return "", "", nil, fmt.Errorf("writing the client key passphrase: %w", err)
	}
	switch {
	case !strings.Contains(dsn, "://"):
		dsn += " service=sluice"
	case strings.Contains(dsn, "?"):
		dsn += "&service=sluice"
	default:
		dsn += "?service=sluice"
	}
	return dsn, file, remove, nil
}

// LastLines returns the last n non-empty lines of s joined by "; ", for
// one-line error messages.
func LastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, "; ")
}

// CheckArgs rejects extra arguments of a client tool that would take over
// what sluice sets: any of reserved (see SetsOption). owner says what to use
// instead.
func CheckArgs(args, reserved []string, owner string) error {
	for _, a := range args {
		for _, r := range reserved {
			if SetsOption(a, r) {
				return fmt.Errorf("args: %q is set by sluice: use %s instead", a, owner)
			}
		}
	}
	return nil
}

// SetsOption tells whether argument a sets option opt as the PostgreSQL
// client tools read it: a long option also as --name=value and abbreviated
// (getopt_long takes any unambiguous prefix: --fi=x is --file on pg_dump
// 16), a short one also with its value attached (-fx).
func SetsOption(a, opt string) bool {
	name, _, _ := strings.Cut(a, "=")
	switch {
	case name == opt:
		return true
	case strings.HasPrefix(opt, "--"):
		return len(name) > 2 && strings.HasPrefix(opt, name)
	default:
		return len(opt) == 2 && strings.HasPrefix(a, opt) && !strings.HasPrefix(a, "--")
	}
}
