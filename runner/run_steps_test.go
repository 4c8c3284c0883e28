package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// The step types below are real, small steps for the scheduler and stream
// tests; knobs make them fail or hang at a chosen point.

// rtGen is a source writing size bytes of a repeated pattern.
type rtGen struct {
	Size    int64  `yaml:"size" default:"1000" doc:"bytes to write"`
	Pattern string `yaml:"pattern" default:"abcdefghijklmnopqrstuvwxyz-" doc:"repeated text"`
	FailAt  int64  `yaml:"fail_at" default:"-1" doc:"fail after writing this many bytes"`
	HangAt  int64  `yaml:"hang_at" default:"-1" doc:"wait for cancellation after this many bytes"`
	Fails   int    `yaml:"fails" doc:"fail this many attempts (counted per step id)"`
	Expect  int64  `yaml:"expect" doc:"size to announce with StepContext.ExpectBytes; 0: none"`
}

func (p *rtGen) Produce(ctx context.Context, sc *StepContext, w io.Writer) (Outputs, error) {
	if attempt := events.attempt(sc.ID); attempt <= p.Fails {
		return nil, fmt.Errorf("injected failure in attempt %d", attempt)
	}
	if p.Expect > 0 {
		sc.ExpectBytes(p.Expect)
	}
	chunk := bytes.Repeat([]byte(p.Pattern), max(1, 32<<10/len(p.Pattern)))
	var n int64
	for n < p.Size {
		if p.FailAt >= 0 && n >= p.FailAt {
			return nil, errors.New("injected source failure")
		}
		if p.HangAt >= 0 && n >= p.HangAt {
			events.add("hang " + sc.ID)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		c := chunk[:min(int64(len(chunk)), p.Size-n)]
		if p.FailAt >= 0 {
			c = c[:min(int64(len(c)), max(1, p.FailAt-n))]
		}
		k, err := w.Write(c)
		n += int64(k)
		if err != nil {
			return nil, fmt.Errorf("writing: %w", err)
		}
	}
	return Outputs{"bytes": n}, nil
}

// rtUpper is a transform that upper-cases ASCII and counts.
type rtUpper struct {
	FailAt int64    `yaml:"fail_at" default:"-1" doc:"fail after reading this many bytes"`
	Delay  Duration `yaml:"delay" doc:"work this long per read"`
}

func (p *rtUpper) Transform(ctx context.Context, sc *StepContext, r io.Reader, w io.Writer) (Outputs, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if p.FailAt >= 0 && n >= p.FailAt {
			return nil, errors.New("injected transform failure")
		}
		time.Sleep(p.Delay.Std())
		if k > 0 {
			if _, werr := w.Write(bytes.ToUpper(buf[:k])); werr != nil {
				return nil, fmt.Errorf("writing: %w", werr)
			}
		}
		if err == io.EOF {
			return Outputs{"bytes_in": n, "bytes_out": n}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading: %w", err)
		}
	}
}

// rtFile is a sink writing to path+".tmp" and renaming it to path on commit.
// With no path it discards.
type rtFile struct {
	Path       string `yaml:"path" doc:"final file"`
	FailAt     int64  `yaml:"fail_at" default:"-1" doc:"fail after reading this many bytes"`
	Partial    bool   `yaml:"partial" doc:"return after the first read"`
	FailCommit bool   `yaml:"fail_commit" doc:"fail in Commit"`
	Hold       bool   `yaml:"hold" doc:"after the end of input, wait for cancellation, then succeed"`
	Done       bool   `yaml:"done" doc:"the work is done when Consume returns: nothing pending"`
	WaitFor    string `yaml:"wait_for" doc:"after the end of input, wait until this event was recorded"`
	// Item makes the sink's path PATH.ITEM for an item of a for_each.
	PerItem bool `yaml:"per_item" doc:"append the for_each item's key to path"`
}

func (p *rtFile) Consume(ctx context.Context, sc *StepContext, r io.Reader) (Outputs, Pending, error) {
	if p.PerItem && sc.Item != nil {
		p.Path = fmt.Sprintf("%s.%v", p.Path, sc.Item)
	}
	var dst io.Writer = io.Discard
	var f *os.File
	if p.Path != "" {
		var err error
		if f, err = os.Create(p.Path + ".tmp"); err != nil {
			return nil, nil, err
		}
		dst = f
	}
	pend := &rtPending{p: p, f: f}
	var n int64
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if p.FailAt >= 0 && n >= p.FailAt {
			pend.Abort()
			return nil, nil, errors.New("injected sink failure")
		}
		if _, werr := dst.Write(buf[:k]); werr != nil {
			pend.Abort()
			return nil, nil, werr
		}
		if err == io.EOF || (p.Partial && err == nil) {
			break
		}
		if err != nil {
			pend.Abort()
			return nil, nil, fmt.Errorf("reading: %w", err)
		}
	}
	if f != nil {
		if err := f.Close(); err != nil {
			pend.Abort()
			return nil, nil, err
		}
	}
	if p.Hold {
		events.add("hold " + sc.ID)
		<-ctx.Done()
	}
	if p.WaitFor != "" {
		if err := waitUntil(ctx, "event "+p.WaitFor, func() bool { return slices.Contains(events.snapshot(), p.WaitFor) }); err != nil {
			pend.Abort()
			return nil, nil, err
		}
	}
	if p.Done {
		return Outputs{"bytes": n}, NothingPending, nil
	}
	return Outputs{"bytes": n}, pend, nil
}

type rtPending struct {
	p *rtFile
	f *os.File
}

func (pp *rtPending) Commit(_ context.Context, upstream []Stage) (Outputs, error) {
	events.add("commit " + pp.p.Path)
	if pp.p.FailCommit {
		return nil, errors.New("injected commit failure")
	}
	var ids []any
	for _, s := range upstream {
		ids = append(ids, s.ID)
	}
	if pp.f == nil {
		return Outputs{"upstream": ids}, nil
	}
	return Outputs{"upstream": ids, "path": pp.p.Path}, os.Rename(pp.p.Path+".tmp", pp.p.Path)
}

func (pp *rtPending) Abort() error {
	events.add("abort " + pp.p.Path)
	if pp.f == nil {
		return nil
	}
	pp.f.Close()
	if err := os.Remove(pp.p.Path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// rtAct is an action that records its start and end, may sleep, fail or
// return a given output.
type rtAct struct {
	Sleep Duration `yaml:"sleep" doc:"how long to work (stops on cancellation)"`
	Fails int      `yaml:"fails" doc:"fail this many attempts; -1: always"`
	Value string   `yaml:"value" doc:"returned as output value"`
	Size  int64    `yaml:"size" doc:"returned as output bytes"`
	Meet  int      `yaml:"meet" doc:"wait until this many actions run at once"`
	AtEnd bool     `yaml:"at_end" doc:"register end-of-run work that records \"at-end ID\""`
	Log   bool     `yaml:"log" doc:"log the value"`
	// OutputsOnError returns the outputs together with the injected failure.
	OutputsOnError bool `yaml:"outputs_on_error" doc:"return outputs with the injected failure"`
}

func (p *rtAct) Run(ctx context.Context, sc *StepContext) (Outputs, error) {
	attempt := events.attempt(sc.ID)
	events.start(sc.ID)
	defer events.end(sc.ID)
	if p.AtEnd {
		sc.AtEnd(func() error { events.add("at-end " + sc.ID); return nil })
	}
	if p.Log {
		sc.Logger.Info("the value is "+p.Value, "value", p.Value)
	}
	if p.Fails < 0 || attempt <= p.Fails {
		var outs Outputs
		if p.OutputsOnError {
			outs = Outputs{"value": p.Value}
		}
		return outs, fmt.Errorf("injected failure (value %s)", p.Value)
	}
	if err := waitUntil(ctx, "the other steps to meet", func() bool { return events.meet(p.Meet) }); err != nil {
		return nil, err
	}
	select {
	case <-time.After(p.Sleep.Std()):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return Outputs{"value": p.Value, "bytes": p.Size, "took": p.Sleep.Std()}, nil
}

var testRegistry = NewRegistry(
	Definition{Type: "gen", Kind: KindSource, Summary: "test source", New: func() any { return &rtGen{} },
		Outputs: []OutputSpec{{Name: "bytes", Type: "int"}}},
	Definition{Type: "upper", Kind: KindTransform, Summary: "test transform", New: func() any { return &rtUpper{} },
		Outputs: []OutputSpec{{Name: "bytes_in", Type: "int"}, {Name: "bytes_out", Type: "int"}}},
	Definition{Type: "file", Kind: KindSink, Summary: "test sink", New: func() any { return &rtFile{} },
		Outputs: []OutputSpec{{Name: "bytes", Type: "int"}, {Name: "path", Type: "string"}, {Name: "upstream", Type: "list"}}},
	Definition{Type: "act", Kind: KindAction, Summary: "test action", New: func() any { return &rtAct{} },
		Outputs: []OutputSpec{{Name: "value", Type: "string"}, {Name: "bytes", Type: "int"}, {Name: "took", Type: "duration"}}},
	callDefinition(),
)

// recorder collects what the test steps did. Tests in this package that use
// it do not run in parallel.
type recorder struct {
	mu       sync.Mutex
	log      []string
	attempts map[string]int
	running  int
	peak     int
}

var events = &recorder{}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log, r.attempts, r.running, r.peak = nil, map[string]int{}, 0, 0
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, e)
}

func (r *recorder) attempt(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[id]++
	return r.attempts[id]
}

func (r *recorder) start(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "start "+id)
	r.running++
	r.peak = max(r.peak, r.running)
}

func (r *recorder) end(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "end "+id)
	r.running--
}

// meet reports whether at least n actions run, or once ran, at the same
// time. Once the peak was reached, later actions pass: waiting for n running
// at once again could wait forever when the others already ended.
func (r *recorder) meet(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running >= n || r.peak >= n
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// runPlan loads src with the test registry and runs it in a fresh state
// folder.
func runPlan(t *testing.T, ctx context.Context, src string, opts RunOptions) (*Report, error) {
	t.Helper()
	events.reset()
	p, err := Load("plan.yaml", []byte(src), testRegistry)
	if err != nil {
		t.Fatalf("loading plan: %v", err)
	}
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.Environ == nil {
		opts.Environ = []string{"MODE=test"}
	}
	return Run(ctx, p, opts)
}

func stepStatus(t *testing.T, rep *Report, id string) Status {
	t.Helper()
	s := rep.Step(id)
	if s == nil {
		t.Fatalf("report has no step %q", id)
	}
	return s.Status
}

// waitUntil polls cond until it holds, ctx ends or a minute passes, so that
// a test step never waits for ever for what does not come.
func waitUntil(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("test step gave up waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
