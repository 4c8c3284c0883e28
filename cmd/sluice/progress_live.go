package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/runner"
)

// liveView keeps one line per running stream at the bottom of a terminal
// and redraws them in place as reports arrive. Text written through it (the
// logs) appears above the lines. It is safe for concurrent use.
type liveView struct {
	mu      sync.Mutex
	w       io.Writer
	width   func() int          // the terminal's columns; 0 when unknown
	redact  func(string) string // streams may be named after secret values
	order   []string            // streams, in the order they started
	lines   map[string]string
	drawn   int  // lines of the view on the screen now
	midLine bool // text written through the view has not ended its line
}

func newLiveView(w io.Writer, width func() int, redact func(string) string) *liveView {
	return &liveView{w: w, width: width, redact: redact, lines: map[string]string{}}
}

// Progress updates the line of p's stream, or removes it when the stream
// ended, and redraws the view.
func (v *liveView) Progress(p runner.StreamProgress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := p.Target + "\x00" + p.Stream
	_, known := v.lines[key]
	switch {
	case p.Done:
		if !known {
			return
		}
		delete(v.lines, key)
		for i, k := range v.order {
			if k == key {
				v.order = append(v.order[:i], v.order[i+1:]...)
				break
			}
		}
	case !known:
		v.order = append(v.order, key)
		fallthrough
	default:
		v.lines[key] = v.redact(progressText(p))
	}
	if v.midLine {
		return // drawn when the text's line ends
	}
	var buf bytes.Buffer
	v.clear(&buf)
	v.draw(&buf)
	_, _ = v.w.Write(buf.Bytes()) // a terminal that fails to draw progress must not fail the run
}

// Write writes text above the view.
func (v *liveView) Write(p []byte) (int, error) {
	return v.above(v.w, p)
}

// Close clears the view from the screen.
func (v *liveView) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var buf bytes.Buffer
	v.clear(&buf)
	v.order, v.lines = nil, map[string]string{}
	_, _ = v.w.Write(buf.Bytes()) // as in Progress
}

// above clears the view, writes p to w, and draws the view again below it
// once p ended its line.
func (v *liveView) above(w io.Writer, p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.midLine && v.drawn > 0 {
		var buf bytes.Buffer
		v.clear(&buf)
		if _, err := v.w.Write(buf.Bytes()); err != nil {
			return 0, err
		}
	}
	n, err := w.Write(p)
	if len(p) > 0 {
		v.midLine = p[len(p)-1] != '\n'
	}
	if err == nil && !v.midLine && len(v.order) > 0 {
		var buf bytes.Buffer
		v.draw(&buf)
		_, err = v.w.Write(buf.Bytes())
	}
	return n, err
}

// clear moves the cursor to the first line of the view and erases from
// there to the end of the screen.
func (v *liveView) clear(buf *bytes.Buffer) {
	if v.drawn > 0 {
		fmt.Fprintf(buf, "\x1b[%dA\r\x1b[J", v.drawn)
		v.drawn = 0
	}
}

// draw writes the view's lines from the cursor on, each cut to the
// terminal's width so that none wraps (a wrapped line would throw the next
// clear off by one).
func (v *liveView) draw(buf *bytes.Buffer) {
	cols := 0
	if v.width != nil {
		cols = v.width()
	}
	for _, k := range v.order {
		line := v.lines[k]
		if cols > 1 && utf8.RuneCountInString(line) >= cols {
			r := []rune(line)
			line = string(r[:cols-1])
		}
		buf.WriteString(line)
		buf.WriteString("\n")
	}
	v.drawn = len(v.order)
}

// aboveWriter writes to w above a live view.
type aboveWriter struct {
	v *liveView
	w io.Writer
}

func (a *aboveWriter) Write(p []byte) (int, error) { return a.v.above(a.w, p) }
