package pg

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ClientCmd returns a command that runs a client tool (pg_dump, pg_restore,
// psql) with args against dsn. The DSN goes to --dbname without its
// password, which travels in PGPASSWORD so that it never shows in ps;
// --no-password stops the tool from prompting. Cancelling ctx kills the
// tool.
func ClientCmd(ctx context.Context, tool Tool, dsn string, args ...string) *exec.Cmd {
	rest, pw := SplitPassword(dsn)
	all := append([]string{"--no-password"}, args...)
	all = append(all, "--dbname="+rest)
	cmd := exec.CommandContext(ctx, tool.Path, all...)
	env := os.Environ()
	if pw != "" {
		env = append(env, "PGPASSWORD="+pw) // the last value wins
	}
	if os.Getenv("PGAPPNAME") == "" {
		env = append(env, "PGAPPNAME=sluice")
	}
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Tail is an io.Writer that keeps the last bytes written to it, for the
// stderr of a child process in error messages.
type Tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewTail returns a Tail keeping up to max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

// Write keeps the end of p. It never fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
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
