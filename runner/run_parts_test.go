package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// ptGen is a source that splits its stream into Parts parts (none: one
// stream), each Size bytes of the part's name repeated.
type ptGen struct {
	Count    int    `yaml:"parts" doc:"parts to declare; 0 streams once"`
	Size     int64  `yaml:"size" default:"100000" doc:"bytes per part"`
	Jobs     int    `yaml:"jobs" default:"2" doc:"parts at once"`
	Phased   bool   `yaml:"phased" doc:"first part phase 0, last part phase 2, the others 1"`
	FailPart string `yaml:"fail_part" doc:"fail producing this part half-way"`
	FailOpen bool   `yaml:"fail_open" doc:"fail declaring the parts"`
}

func (p *ptGen) Produce(ctx context.Context, sc *StepContext, w io.Writer) (Outputs, error) {
	return p.produce(ctx, "whole", w)
}

func (p *ptGen) produce(ctx context.Context, name string, w io.Writer) (Outputs, error) {
	events.start("part " + name)
	defer events.end("part " + name)
	chunk := bytes.Repeat([]byte(name+";"), 2000)
	var n int64
	for n < p.Size {
		if name == p.FailPart && n >= p.Size/2 {
			return nil, errors.New("injected part failure")
		}
		// Slow enough that parts overlap, so that jobs is what limits them.
		time.Sleep(time.Millisecond)
		k, err := w.Write(chunk[:min(int64(len(chunk)), p.Size-n)])
		n += int64(k)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return Outputs{"bytes": n, "name": name}, nil
}

func (p *ptGen) Parts(ctx context.Context, sc *StepContext) (*Parts, error) {
	if p.FailOpen {
		return nil, errors.New("injected failure declaring parts")
	}
	if p.Count == 0 {
		return nil, nil
	}
	ps := &Parts{Jobs: p.Jobs,
		Produce: func(ctx context.Context, sc *StepContext, pt Part, w io.Writer) (Outputs, error) {
			if sc.Part == nil || sc.Part.Name != pt.Name {
				return nil, fmt.Errorf("StepContext.Part is %v, want part %s", sc.Part, pt.Name)
			}
			return p.produce(ctx, pt.Name, w)
		},
		Finish: func(parts []Outputs) Outputs {
			out := MergePartOutputs(parts)
			out["parts"] = int64(len(parts))
			return out
		},
		Close: func() error { events.add("close"); return nil },
	}
	for i := range p.Count {
		pt := Part{Name: fmt.Sprintf("p%d", i), Phase: 0, Info: map[string]any{"index": i}}
		if p.Phased {
			pt.Phase = 1
			switch i {
			case 0:
				pt.Phase = 0
			case p.Count - 1:
				pt.Phase = 2
			}
		}
		ps.List = append(ps.List, pt)
	}
	return ps, nil
}

// ptDir is a sink that stores each part as DIR/NAME, under DIR/NAME.tmp
// until the commit of all of them.
type ptDir struct {
	Dir        string `yaml:"dir" doc:"folder"`
	FailPart   string `yaml:"fail_part" doc:"fail consuming this part"`
	FailFinish bool   `yaml:"fail_finish" doc:"fail in Finish"`
	FailCommit bool   `yaml:"fail_commit" doc:"fail in Commit, after the first part was made visible"`
}

func (p *ptDir) Consume(ctx context.Context, sc *StepContext, r io.Reader) (Outputs, Pending, error) {
	return nil, nil, errors.New("ptDir takes parts only")
}

func (p *ptDir) ConsumeParts(ctx context.Context, sc *StepContext, parts []Part) (PartConsumer, error) {
	events.add(fmt.Sprintf("consume %d parts", len(parts)))
	return &ptConsumer{p: p}, nil
}

type ptConsumer struct {
	p       *ptDir
	mu      sync.Mutex
	written []string
}

func (c *ptConsumer) Consume(ctx context.Context, sc *StepContext, pt Part, r io.Reader) (Outputs, error) {
	tmp := filepath.Join(c.p.Dir, pt.Name+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.written = append(c.written, tmp)
	c.mu.Unlock()
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && pt.Name == c.p.FailPart {
		err = errors.New("injected sink failure")
	}
	return Outputs{"bytes": n}, err
}

func (c *ptConsumer) Finish(ctx context.Context, parts []PartResult) (Outputs, Pending, error) {
	if c.p.FailFinish {
		return nil, nil, errors.New("injected finish failure")
	}
	var seen []any
	for _, r := range parts {
		var chain []string
		for _, st := range r.Upstream {
			chain = append(chain, fmt.Sprintf("%s:%v", st.ID, st.Outputs["bytes"]))
		}
		seen = append(seen, r.Part.Name+"="+strings.Join(chain, ","))
	}
	return Outputs{"bytes": int64(len(parts)), "upstream": seen}, &ptPending{c: c, parts: parts}, nil
}

func (c *ptConsumer) Abort() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	events.add("abort parts")
	for _, t := range c.written {
		if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

type ptPending struct {
	c     *ptConsumer
	parts []PartResult
	made  []string
}

func (p *ptPending) Commit(ctx context.Context, upstream []Stage) (Outputs, error) {
	for i, r := range p.parts {
		if i == 1 && p.c.p.FailCommit {
			return nil, errors.Join(errors.New("injected commit failure"), p.Abort())
		}
		final := filepath.Join(p.c.p.Dir, r.Part.Name)
		if err := os.Rename(final+".tmp", final); err != nil {
			return nil, err
		}
		p.made = append(p.made, final)
	}
	events.add("commit parts")
	return Outputs{"path": p.c.p.Dir}, nil
}

func (p *ptPending) Abort() error {
	for _, m := range p.made {
		os.Remove(m)
	}
	p.made = nil
	return p.c.Abort()
}

var partsRegistry = NewRegistry(
	Definition{Type: "pgen", Kind: KindSource, Summary: "test source in parts", New: func() any { return &ptGen{} },
		Outputs: []OutputSpec{{Name: "bytes", Type: "int"}, {Name: "name", Type: "string"}, {Name: "parts", Type: "int"}}},
	Definition{Type: "upper", Kind: KindTransform, Summary: "test transform", New: func() any { return &rtUpper{} },
		Outputs: []OutputSpec{{Name: "bytes_in", Type: "int"}, {Name: "bytes_out", Type: "int"}}},
	Definition{Type: "pdir", Kind: KindSink, Summary: "test sink of parts", New: func() any { return &ptDir{} },
		Outputs: []OutputSpec{{Name: "bytes", Type: "int"}, {Name: "path", Type: "string"}, {Name: "upstream", Type: "list"}}},
	Definition{Type: "file", Kind: KindSink, Summary: "test sink", New: func() any { return &rtFile{} },
		Outputs: []OutputSpec{{Name: "bytes", Type: "int"}, {Name: "path", Type: "string"}, {Name: "upstream", Type: "list"}}},
)

func runPartsPlan(t *testing.T, src string) (*Report, error) {
	t.Helper()
	events.reset()
	p, err := Load("plan.yaml", []byte(src), partsRegistry)
	if err != nil {
		t.Fatalf("loading plan: %v", err)
	}
	return Run(context.Background(), p, RunOptions{StateDir: t.TempDir(), Environ: []string{"MODE=test"}})
}

func partsPlan(dir, gen, sink string) string {
	return fmt.Sprintf(`
version: 1
steps:
  src:   {type: pgen, with: {size: 60000 %s}}
  up:    {type: upper, input: src}
  store:
    type: pdir
    input: up
    with: {dir: %q %s}
    assert:
      - steps.src.bytes == steps.up.bytes_in
`, gen, dir, sink)
}

func TestRunPartsCommitTogether(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	rep, err := runPartsPlan(t, partsPlan(dir, ", parts: 5, jobs: 2", ""))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for i := range 5 {
		name := fmt.Sprintf("p%d", i)
		got, err := os.ReadFile(filepath.Join(dir, name))
		want := bytes.ToUpper(bytes.Repeat([]byte(name+";"), 60000)[:60000])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("part %s: %d bytes, %v; want its 60000 upper-cased bytes", name, len(got), err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if events.peak != 2 {
		t.Errorf("%d parts ran at once, want jobs: 2", events.peak)
	}
	log := events.snapshot()
	if i, j := slices.Index(log, "close"), slices.Index(log, "commit parts"); i < 0 || j < i || slices.Contains(log[i:], "start part p4") {
		t.Errorf("the source was not closed once, after every part and before the commit: %v", log)
	}
	src, up, store := rep.Step("src"), rep.Step("up"), rep.Step("store")
	if src.Outputs["bytes"] != int64(300000) || src.Outputs["parts"] != int64(5) || src.Bytes == nil || src.Bytes.Out != 300000 {
		t.Errorf("source outputs %v, bytes %+v; want 5 parts of 60000 summed", src.Outputs, src.Bytes)
	}
	if _, ok := src.Outputs["name"]; ok {
		t.Errorf("a value that differs between parts was kept: %v", src.Outputs)
	}
	if up.Outputs["bytes_in"] != int64(300000) || up.Bytes.In != 300000 {
		t.Errorf("transform outputs %v, bytes %+v; want sums over the parts", up.Outputs, up.Bytes)
	}
	seen, _ := store.Outputs["upstream"].([]any)
	if len(seen) != 5 || seen[3] != "p3=src:60000,up:<nil>" {
		t.Errorf("the sink saw upstreams %v, want each part's own chain", seen)
	}
	if store.Outputs["path"] != dir || len(store.Gates) != 1 || !store.Gates[0].Passed {
		t.Errorf("store: outputs %v, gates %+v", store.Outputs, store.Gates)
	}
}

// TestRunPartsAllOrNothing fails one part at each member, in Finish and in
// the commit: the run fails naming the part, nothing is left in the folder,
// and the source is closed.
func TestRunPartsAllOrNothing(t *testing.T) {
	cases := []struct {
		name, gen, sink, step, msg string
	}{
		{name: "source", gen: ", fail_part: p2", step: "src", msg: "part p2: injected part failure"},
		{name: "sink", sink: ", fail_part: p3", step: "store", msg: "part p3: injected sink failure"},
		{name: "finish", sink: ", fail_finish: true", step: "store", msg: "finishing its parts: injected finish failure"},
		{name: "commit", sink: ", fail_commit: true", step: "store", msg: "committing: injected commit failure"},
		{name: "declaring", gen: ", fail_open: true", step: "src", msg: "injected failure declaring parts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := t.TempDir()
			rep, err := runPartsPlan(t, partsPlan(dir, ", parts: 5, jobs: 2"+tc.gen, tc.sink))
			var se *StepError
			if !errors.As(err, &se) || se.Step != tc.step || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error = %v, want step %q failing with %q", err, tc.step, tc.msg)
			}
			if st := stepStatus(t, rep, tc.step); st != StatusFailed {
				t.Errorf("%s: %s, want failed", tc.step, st)
			}
			if st := stepStatus(t, rep, "store"); st == StatusSucceeded {
				t.Errorf("the sink succeeded after a failed part")
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
			if tc.name != "declaring" && !slices.Contains(events.snapshot(), "close") {
				t.Errorf("the source was not closed: %v", events.snapshot())
			}
		})
	}
}

func TestRunPartsPhases(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	if _, err := runPartsPlan(t, partsPlan(dir, ", parts: 5, jobs: 4, phased: true", "")); err != nil {
		t.Fatalf("run: %v", err)
	}
	log := events.snapshot()
	pos := func(e string) int {
		i := slices.Index(log, e)
		if i < 0 {
			t.Fatalf("no %q in %v", e, log)
		}
		return i
	}
	for _, mid := range []string{"p1", "p2", "p3"} {
		if pos("end part p0") > pos("start part "+mid) || pos("end part "+mid) > pos("start part p4") {
			t.Errorf("part %s ran outside its phase: %v", mid, log)
		}
	}
	if events.peak != 3 {
		t.Errorf("%d parts at once, want the 3 of the middle phase", events.peak)
	}
}

func TestRunPartsSinkOfOneStream(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	plan := func(parts int) string {
		return fmt.Sprintf(`
version: 1
steps:
  src:  {type: pgen, with: {size: 1000, parts: %d}}
  keep: {type: file, input: src, with: {path: %q}}
`, parts, filepath.Join(dir, "out"))
	}
	_, err := runPartsPlan(t, plan(3))
	if err == nil || !strings.Contains(err.Error(), `source "src" split its stream into 3 parts, which step type "file" cannot take`) {
		t.Fatalf("error = %v, want the sink refusing parts", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 || !slices.Contains(events.snapshot(), "close") || slices.Contains(events.snapshot(), "start part p0") {
		t.Errorf("left %v; events %v: want nothing streamed and the source closed", left, events.snapshot())
	}
	// Without parts the same source streams once, as any source.
	rep, err := runPartsPlan(t, plan(0))
	if err != nil || rep.Step("src").Outputs["name"] != "whole" {
		t.Fatalf("one stream: %v, outputs %v", err, rep.Step("src").Outputs)
	}
}

func TestMergePartOutputs(t *testing.T) {
	got := MergePartOutputs([]Outputs{
		{"n": int64(2), "d": time.Second, "ok": true, "ids": []any{"a", "b"}, "alg": "zstd", "digest": "x", "only": 1, "ratio": 2.0},
		{"n": 3, "d": 2 * time.Second, "ok": false, "ids": []any{"b", "c"}, "alg": "zstd", "digest": "y", "ratio": 2.0},
	})
	want := Outputs{"n": int64(5), "d": 3 * time.Second, "ok": false, "ids": []any{"a", "b", "c"}, "alg": "zstd", "ratio": 2.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergePartOutputs = %v, want %v", got, want)
	}
}
