package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sluice-dev/sluice/runner"
)

// fakeTerminal is a screen that interprets what the live view writes: text,
// "\r", "\n" (as a terminal's line discipline does, back to column 0), and
// the two escape sequences the view uses, cursor up (ESC [ n A) and erase
// to the end of the screen (ESC [ J). Anything else fails the test, so the
// view cannot rely on a sequence the test does not check. With cols set, a
// character past the last column wraps to the next line, as on a terminal.
type fakeTerminal struct {
	t        *testing.T
	cols     int
	rows     [][]rune
	row, col int
}

func (f *fakeTerminal) Write(p []byte) (int, error) {
	s := []rune(string(p))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\n':
			f.row, f.col = f.row+1, 0
		case '\r':
			f.col = 0
		case 0x1b:
			j := i + 2
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if i+1 >= len(s) || s[i+1] != '[' || j >= len(s) {
				f.t.Fatalf("unfinished escape sequence in %q", p)
			}
			n := 1
			if j > i+2 {
				n, _ = strconv.Atoi(string(s[i+2 : j]))
			}
			switch s[j] {
			case 'A':
				f.row = max(f.row-n, 0)
			case 'J':
				if f.row < len(f.rows) {
					f.rows[f.row] = f.rows[f.row][:min(f.col, len(f.rows[f.row]))]
					f.rows = f.rows[:f.row+1]
				}
			default:
				f.t.Fatalf("escape sequence %q not understood", string(s[i:j+1]))
			}
			i = j
		default:
			if f.cols > 0 && f.col >= f.cols {
				f.row, f.col = f.row+1, 0
			}
			for len(f.rows) <= f.row {
				f.rows = append(f.rows, nil)
			}
			line := f.rows[f.row]
			for len(line) <= f.col {
				line = append(line, ' ')
			}
			line[f.col] = c
			f.rows[f.row], f.col = line, f.col+1
		}
	}
	return len(p), nil
}

// screen returns the lines on the screen, trailing spaces cut.
func (f *fakeTerminal) screen() []string {
	var out []string
	for _, r := range f.rows {
		out = append(out, strings.TrimRight(string(r), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func wantScreen(t *testing.T, term *fakeTerminal, want ...string) {
	t.Helper()
	got := term.screen()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLiveViewRedrawsInPlace(t *testing.T) {
	term := &fakeTerminal{t: t}
	v := newLiveView(term, func() int { return 0 }, strings.NewReplacer("hunter2", "***").Replace)
	mib := int64(1 << 20)

	v.Progress(runner.StreamProgress{Stream: "dump", Bytes: mib, Rate: float64(mib), Size: 4 * mib, Elapsed: time.Second})
	v.Progress(runner.StreamProgress{Stream: "read[hunter2]", Bytes: 512, Rate: 512, Elapsed: time.Second})
	wantScreen(t, term,
		"dump  1.0 MiB of ~4.0 MiB (25%)  1.0 MiB/s  ETA 3s",
		"read[***]  512 B  512 B/s")

	// Updates redraw the same lines, never add one.
	for i := int64(2); i <= 3; i++ {
		v.Progress(runner.StreamProgress{Stream: "dump", Bytes: i * mib, Rate: float64(mib), Size: 4 * mib, Elapsed: time.Duration(i) * time.Second})
	}
	wantScreen(t, term,
		"dump  3.0 MiB of ~4.0 MiB (75%)  1.0 MiB/s  ETA 1s",
		"read[***]  512 B  512 B/s")

	// Logs scroll above the view.
	if _, err := v.Write([]byte("[INFO] step started\n")); err != nil {
		t.Fatal(err)
	}
	wantScreen(t, term,
		"[INFO] step started",
		"dump  3.0 MiB of ~4.0 MiB (75%)  1.0 MiB/s  ETA 1s",
		"read[***]  512 B  512 B/s")

	// A log line in pieces: the view waits for its end before drawing.
	v.Write([]byte("[INFO] half"))
	v.Progress(runner.StreamProgress{Stream: "read[hunter2]", Bytes: 2048, Rate: 1536, Elapsed: 2 * time.Second})
	v.Write([]byte(" and the rest\n"))
	wantScreen(t, term,
		"[INFO] step started",
		"[INFO] half and the rest",
		"dump  3.0 MiB of ~4.0 MiB (75%)  1.0 MiB/s  ETA 1s",
		"read[***]  2.0 KiB  1.5 KiB/s")

	// Past the estimate: no percentage, no ETA. A finished stream's line goes.
	v.Progress(runner.StreamProgress{Stream: "dump", Bytes: 5 * mib, Rate: float64(mib), Size: 4 * mib, Elapsed: 5 * time.Second})
	v.Progress(runner.StreamProgress{Stream: "read[hunter2]", Done: true})
	wantScreen(t, term,
		"[INFO] step started",
		"[INFO] half and the rest",
		"dump  5.0 MiB of ~4.0 MiB  1.0 MiB/s")

	// What the run prints on stdout (the same terminal) goes above the view too.
	(&runOutput{live: v}).above(term).Write([]byte("target a: succeeded\n"))
	wantScreen(t, term,
		"[INFO] step started",
		"[INFO] half and the rest",
		"target a: succeeded",
		"dump  5.0 MiB of ~4.0 MiB  1.0 MiB/s")

	v.Close()
	wantScreen(t, term, "[INFO] step started", "[INFO] half and the rest", "target a: succeeded")
	v.Write([]byte("summary\n"))
	wantScreen(t, term, "[INFO] step started", "[INFO] half and the rest", "target a: succeeded", "summary")
}

// A line wider than the terminal would wrap and throw the next redraw off
// by a line: lines are cut to the width.
func TestLiveViewCutsToWidth(t *testing.T) {
	term := &fakeTerminal{t: t, cols: 12}
	v := newLiveView(term, func() int { return term.cols }, func(s string) string { return s })
	v.Progress(runner.StreamProgress{Target: "db-1", Stream: "dump", Bytes: 10, Rate: 10})
	v.Progress(runner.StreamProgress{Target: "db-2", Stream: "dump", Bytes: 10, Rate: 10})
	v.Progress(runner.StreamProgress{Target: "db-1", Stream: "dump", Bytes: 20, Rate: 10})
	wantScreen(t, term, "db-1: dump", "db-2: dump") // 11 columns, then cut
}

// Off a terminal, progress is a log line per report, in the log's format.
func TestLogProgress(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true})
	sink := logProgress(log)
	sink(runner.StreamProgress{Target: "db1", Stream: "dump", Bytes: 3 << 20, Rate: 1 << 20, Size: 4 << 20, Elapsed: 3 * time.Second})
	sink(runner.StreamProgress{Stream: "dump", Bytes: 4 << 20, Done: true})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines %q, want one (none for the end of a stream)", lines)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"@message": "stream progress", "target": "db1", "stream": "dump", "bytes": float64(3 << 20), "rate": "1.0 MiB/s", "size_bytes": float64(4 << 20), "eta": "1s"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v (line %s)", k, got[k], w, lines[0])
		}
	}
}
