package pg

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// restrictSince is the first minor release of each major version whose
// psql has restricted mode (\restrict, CVE-2025-8714); 18 has it from 18.0.
var restrictSince = map[int]int{13: 22, 14: 19, 15: 14, 16: 10, 17: 6}

// CheckRestrict returns an error unless psql version v has restricted mode,
// in which it runs no backslash command of a script.
func CheckRestrict(v Version) error {
	if v.Major >= 18 {
		return nil
	}
	if min, ok := restrictSince[v.Major]; ok && v.Minor >= min {
		return nil
	}
	return fmt.Errorf("psql %s cannot restrict backslash commands (\\restrict needs psql 13.22, 14.19, 15.14, 16.10, 17.6, 18 or later): "+
		"refusing to feed it a plain dump, whose \\! lines would run here; install a current postgresql-client", v.Text)
}

// NewRestrictKey returns a random key for \restrict that a script cannot
// guess, so it cannot leave restricted mode with \unrestrict.
func NewRestrictKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a \\restrict key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// dumpRestrict matches the \restrict line pg_dump 13.22/14.19/15.14/16.10/
// 17.6 and later write after a plain dump's header comment (its key is
// alphanumeric).
var dumpRestrict = regexp.MustCompile(`^\\restrict ([A-Za-z0-9]+)\r?\n?$`)

// RestrictedScript returns script as psql should read it: first
// `\restrict key`, so psql runs none of the script's backslash commands,
// then the script without the pair of lines with which pg_dump restricts
// the dump to its own key: the `\restrict K` right after the header
// comment and the line `\unrestrict K` with that same K. Under our
// restriction both would fail; dropping them lifts nothing, and any other
// backslash command still fails, which stops psql with ON_ERROR_STOP.
func RestrictedScript(script io.Reader, key string) io.Reader {
	return &restrictReader{br: bufio.NewReaderSize(script, 64<<10), pending: []byte("\\restrict " + key + "\n"), header: true}
}

type restrictReader struct {
	br      *bufio.Reader
	pending []byte // what Read returns next; may point into br's buffer
	header  bool   // still in the leading comment lines
	midLine bool   // the last slice ended inside a long line
	dumpKey string // pg_dump's own key, once seen
	err     error
}

func (r *restrictReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		line, err := r.br.ReadSlice('\n')
		full := !errors.Is(err, bufio.ErrBufferFull)
		if err != nil && full {
			r.err = err
		}
		lineStart := !r.midLine
		r.midLine = !full
		if lineStart && full && r.drop(line) {
			continue
		}
		r.pending = line
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// drop reports whether line (a whole line) is one of pg_dump's own
// \restrict and \unrestrict lines.
func (r *restrictReader) drop(line []byte) bool {
	if r.header {
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 || bytes.HasPrefix(trimmed, []byte("--")) {
			return false
		}
		r.header = false
		if m := dumpRestrict.FindSubmatch(line); m != nil {
			r.dumpKey = string(m[1])
			return true
		}
		return false
	}
	if r.dumpKey == "" || len(line) == 0 || line[0] != '\\' {
		return false
	}
	return string(bytes.TrimRight(line, "\r\n")) == "\\unrestrict "+r.dumpKey
}
