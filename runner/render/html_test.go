package render

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

func renderHTML(t *testing.T, r *runner.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r, testRegistry()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLContent(t *testing.T) {
	page := renderHTML(t, fixture(t))
	for _, want := range []string{
		`<header class="FAIL" id="verdict">`,
		`<span class="verdict">FAIL</span>`,
		`steps.write.bytes = 6`, // operand values of the failed gate
		`plans/nightly.yaml:22`,
		`id="dag"`, `id="timeline"`, `id="streams"`, `id="steps"`,
		`Stream 1: 4.0 MiB in 2.00s · 2.0 MiB/s`,
		`data-section="measure"`,
		`did not run (skipped)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<g class="node `); n != 6 {
		t.Errorf("DAG has %d nodes, want 6", n)
	}
	// Dashed edges for needs/expression references, solid for streams.
	if n := strings.Count(page, `class="edge dep"`); n != 3 {
		t.Errorf("%d dependency edges, want 3 (bench<-read, notify<-bench, notify<-write)", n)
	}
	if n := strings.Count(page, `class="edge"`); n != 2 {
		t.Errorf("%d stream edges, want 2", n)
	}
}

func TestHTMLEscapesAndIsSelfContained(t *testing.T) {
	page := renderHTML(t, fixture(t))
	if strings.Contains(page, hostile) || strings.Contains(page, `<script>alert`) {
		t.Error("hostile output reached the page unescaped")
	}
	if !strings.Contains(page, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Error("hostile output is not shown escaped")
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("page has a script element; it must read without JavaScript")
	}
	// No network: the only URL is the SVG namespace, which is a name.
	for _, m := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"' <]*`).FindAllString(page, -1) {
		if m != "http://www.w3.org/2000/svg" && !strings.HasPrefix(m, "file://") {
			t.Errorf("page refers to %q: it must not load anything", m)
		}
	}
	// Defence in depth: should a section ever mis-escape, the browser still
	// runs no script and loads nothing.
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`) {
		t.Error("page has no Content-Security-Policy that forbids scripts and loads")
	}
	for _, bad := range []string{"<link", "<img", "@import", "url(http"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestHTMLVerdicts(t *testing.T) {
	for status, want := range map[runner.Status]string{
		runner.StatusSucceeded: "PASS", runner.StatusFailed: "FAIL", runner.StatusInterrupted: "INTERRUPTED",
	} {
		r := fixture(t)
		r.Status = status
		if page := renderHTML(t, r); !strings.Contains(page, `<span class="verdict">`+want+`</span>`) {
			t.Errorf("status %s: verdict %s not shown", status, want)
		}
	}
}

func TestLayoutDAGDepths(t *testing.T) {
	l := layoutDAG(fixture(t))
	layers := map[string]int{}
	for _, n := range l.Nodes {
		layers[n.ID] = n.Layer
	}
	want := map[string]int{"read": 0, "sum": 1, "write": 2, "bench": 1, "notify": 3, "optional": 0}
	for id, w := range want {
		if layers[id] != w {
			t.Errorf("%s in layer %d, want %d", id, layers[id], w)
		}
	}
	for _, n := range l.Nodes {
		if n.X+nodeW > l.Width || n.Y+nodeH > l.Height {
			t.Errorf("node %s at (%d,%d) outside %dx%d", n.ID, n.X, n.Y, l.Width, l.Height)
		}
	}
}

func TestStreamGroups(t *testing.T) {
	gs := streamGroups(fixture(t))
	if len(gs) != 1 {
		t.Fatalf("%d groups, want 1", len(gs))
	}
	g := gs[0]
	if len(g.Steps) != 3 || g.Bytes != 4<<20 || g.Seconds != 2 || g.Rate != "2.0 MiB/s" {
		t.Errorf("group = %d steps, %d bytes, %vs, %q", len(g.Steps), g.Bytes, g.Seconds, g.Rate)
	}
}

func TestGanttScalesToRun(t *testing.T) {
	g := layoutGantt(fixture(t))
	bench := g.Bars[3]
	// bench ran from 3s to 9s of a 10s run.
	if want := ganttLabelW + 0.3*ganttBarsW; bench.X < want-0.01 || bench.X > want+0.01 {
		t.Errorf("bench starts at x=%v, want %v", bench.X, want)
	}
	if want := 0.6 * ganttBarsW; bench.W < want-0.01 || bench.W > want+0.01 {
		t.Errorf("bench width %v, want %v", bench.W, want)
	}
	if g.Bars[5].Ran {
		t.Error("a skipped step has a bar")
	}
	if len(g.Ticks) < 3 {
		t.Errorf("%d ticks", len(g.Ticks))
	}
}

func TestFlattenOutputs(t *testing.T) {
	rows := flattenOutputs(sectionOutputs(t, `{"a": {"b": 1, "c": [1, 2]}, "d": [{"e": "x"}], "f": 0.125, "g": {}}`))
	var got []string
	for _, r := range rows {
		got = append(got, r.Key+"="+r.Value)
	}
	want := "a.b=1 a.c=1, 2 d[0].e=x f=0.125 g={}"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
	long := strings.Repeat("é", maxValueLen)
	if v := flattenOutputs(map[string]any{"k": long})[0].Value; !strings.HasSuffix(v, "…") || !utf8Valid(v) {
		t.Errorf("long value not clipped cleanly: %q", v)
	}
}
