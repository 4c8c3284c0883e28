package pg

import (
	"bytes"
	"regexp"
	"strings"
	"sync"

	"github.com/sluice-dev/sluice/steps/command"
)

// ToolLog is an io.Writer for a client tool's stderr that keeps what an
// error message needs: the first lines of the server's report (ERROR,
// FATAL, PANIC, DETAIL, HINT, CONTEXT) and the tool's own error lines,
// wherever they stand in the output, and its last bytes for a tool that
// failed without such a line. Echoes of the failed statement (pg_restore's
// "Command was: CREATE TABLE ...") are not report lines.
type ToolLog struct {
	mu      sync.Mutex
	partial []byte
	report  []string
	tail    *command.Tail
}

const (
	toolLogLines   = 8
	toolLogLineLen = 1 << 10
)

// reportLine matches the lines of a server's error report and a tool's own
// errors, e.g. "pg_restore: error: could not execute query: ERROR:  ...",
// "psql:<stdin>:3: ERROR:  ...", "DETAIL:  Key (id)=(1) already exists."
var reportLine = regexp.MustCompile(`(^|\s|:)(ERROR|FATAL|PANIC):\s|^(DETAIL|HINT|CONTEXT):\s|^[\w.-]+: error:\s`)

// NewToolLog returns an empty ToolLog.
func NewToolLog() *ToolLog { return &ToolLog{tail: command.NewTail(4 << 10)} }

// Write keeps report lines and the end of p. It never fails.
func (l *ToolLog) Write(p []byte) (int, error) {
	l.tail.Write(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if room := toolLogLineLen - len(l.partial); room > 0 {
				l.partial = append(l.partial, rest[:min(len(rest), room)]...)
			}
			break
		}
		if room := toolLogLineLen - len(l.partial); room > 0 {
			l.partial = append(l.partial, rest[:min(i, room)]...)
		}
		l.line(string(l.partial))
		l.partial = l.partial[:0]
		rest = rest[i+1:]
	}
	return len(p), nil
}

func (l *ToolLog) line(s string) {
	s = strings.TrimSpace(s)
	if len(l.report) < toolLogLines && reportLine.MatchString(s) {
		l.report = append(l.report, strings.Join(strings.Fields(s), " "))
	}
}

// Summary returns the report lines joined by "; ", or else the last n
// lines of the output.
func (l *ToolLog) Summary(n int) string {
	l.mu.Lock()
	if len(l.partial) > 0 {
		l.line(string(l.partial))
		l.partial = l.partial[:0]
	}
	report := append([]string(nil), l.report...)
	l.mu.Unlock()
	if len(report) == 0 {
		return LastLines(l.tail.String(), n)
	}
	return strings.Join(report, "; ")
}
