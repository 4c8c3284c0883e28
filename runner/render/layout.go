package render

import (
	"math"

	"github.com/sluice-dev/sluice/runner"
)

// DAG geometry, in SVG user units: layers go down the page, so that long
// chains (a backup and its restore drill) stay readable without scrolling.
const (
	nodeW, nodeH = 170, 40
	colGap       = 24
	rowGap       = 26
	dagPad       = 10
)

// dagNode is one step placed in the DAG drawing.
type dagNode struct {
	ID, Type string
	Status   runner.Status
	X, Y     int
	Layer    int
}

// dagEdge is one dependency drawn from the bottom of the dependency to the
// top of the step; Stream edges (input:) are solid, the others dashed.
type dagEdge struct {
	X1, Y1, X2, Y2 int
	Stream         bool
}

// dagLayout is the DAG drawing.
type dagLayout struct {
	Width, Height int
	Nodes         []dagNode
	Edges         []dagEdge
}

// layoutDAG places each step in the layer of its dependency depth (a step
// without dependencies is in layer 0, others one below their deepest
// dependency) and in plan order within the layer.
func layoutDAG(r *runner.Report) dagLayout {
	index := make(map[string]int, len(r.Steps))
	for i, s := range r.Steps {
		index[s.ID] = i
	}
	depth := make([]int, len(r.Steps))
	done := make([]bool, len(r.Steps))
	var visit func(i int, seen map[int]bool) int
	visit = func(i int, seen map[int]bool) int {
		if done[i] {
			return depth[i]
		}
		if seen[i] { // a cycle cannot pass validation; stay finite anyway
			return 0
		}
		seen[i] = true
		d := 0
		for _, dep := range deps(r.Steps[i]) {
			if j, ok := index[dep]; ok {
				d = max(d, visit(j, seen)+1)
			}
		}
		depth[i], done[i] = d, true
		return d
	}
	for i := range r.Steps {
		visit(i, map[int]bool{})
	}

	var l dagLayout
	cols := map[int]int{}
	pos := make([]dagNode, len(r.Steps))
	maxCols, maxLayer := 0, 0
	for i, s := range r.Steps {
		layer := depth[i]
		col := cols[layer]
		cols[layer]++
		maxCols, maxLayer = max(maxCols, col+1), max(maxLayer, layer)
		pos[i] = dagNode{
			ID: s.ID, Type: s.Type, Status: s.Status, Layer: layer,
			X: dagPad + col*(nodeW+colGap),
			Y: dagPad + layer*(nodeH+rowGap),
		}
	}
	l.Nodes = pos
	for i, s := range r.Steps {
		for _, dep := range deps(s) {
			j, ok := index[dep]
			if !ok {
				continue
			}
			l.Edges = append(l.Edges, dagEdge{
				X1: pos[j].X + nodeW/2, Y1: pos[j].Y + nodeH,
				X2: pos[i].X + nodeW/2, Y2: pos[i].Y,
				Stream: dep == s.Input,
			})
		}
	}
	l.Width = 2*dagPad + maxCols*nodeW + max(maxCols-1, 0)*colGap
	l.Height = 2*dagPad + (maxLayer+1)*nodeH + maxLayer*rowGap
	return l
}

// deps returns a step's dependencies; reports without the deps field (older
// writers) still have the stream edge.
func deps(s runner.StepReport) []string {
	if len(s.Deps) > 0 {
		return s.Deps
	}
	if s.Input != "" {
		return []string{s.Input}
	}
	return nil
}

// Gantt geometry.
const (
	ganttLabelW = 150
	ganttBarsW  = 560
	ganttRowH   = 22
	ganttTop    = 24
)

// ganttBar is one step's bar on the timeline.
type ganttBar struct {
	ID       string
	Status   runner.Status
	Y        int
	X, W     float64
	Duration string
	Ran      bool
}

// ganttTick is one labelled vertical line of the time axis.
type ganttTick struct {
	X     float64
	Label string
}

// ganttLayout is the timeline drawing.
type ganttLayout struct {
	Width, Height int
	LabelW        int
	Bars          []ganttBar
	Ticks         []ganttTick
}

// layoutGantt scales each step's start and end to the run's duration.
func layoutGantt(r *runner.Report) ganttLayout {
	total := r.Finished.Sub(r.Started).Seconds()
	if total <= 0 {
		total = 1e-3
	}
	g := ganttLayout{LabelW: ganttLabelW, Width: ganttLabelW + ganttBarsW + 60}
	scale := ganttBarsW / total
	for i, s := range r.Steps {
		b := ganttBar{ID: s.ID, Status: s.Status, Y: ganttTop + i*ganttRowH, Duration: humanSeconds(s.DurationSeconds)}
		if !s.Started.IsZero() {
			b.Ran = true
			b.X = round1(ganttLabelW + math.Max(0, s.Started.Sub(r.Started).Seconds())*scale)
			b.W = round1(math.Max(2, s.Finished.Sub(s.Started).Seconds()*scale))
		}
		g.Bars = append(g.Bars, b)
	}
	step := niceStep(total / 6)
	for t := 0.0; t <= total+1e-9; t += step {
		g.Ticks = append(g.Ticks, ganttTick{X: round1(ganttLabelW + t*scale), Label: humanSeconds(t)})
	}
	g.Height = ganttTop + len(r.Steps)*ganttRowH + 6
	return g
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// streamGroup is a set of steps joined by input: edges, with what flowed.
type streamGroup struct {
	Steps    []runner.StepReport
	Bytes    int64   // what the group's source wrote
	Seconds  float64 // first start to last finish
	Rate     string
	MaxBytes int64
}

// streamGroups finds the stream groups (connected by input:) in plan order.
func streamGroups(r *runner.Report) []streamGroup {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			parent[x] = find(p)
			return parent[x]
		}
		return x
	}
	for _, s := range r.Steps {
		if s.Input != "" {
			parent[find(s.ID)] = find(s.Input)
		}
	}
	byRoot := map[string]*streamGroup{}
	var order []string
	for _, s := range r.Steps {
		if s.Bytes == nil && s.Input == "" && s.Kind != runner.KindSource {
			continue
		}
		root := find(s.ID)
		g, ok := byRoot[root]
		if !ok {
			g = &streamGroup{}
			byRoot[root] = g
			order = append(order, root)
		}
		g.Steps = append(g.Steps, s)
	}
	var out []streamGroup
	for _, root := range order {
		g := byRoot[root]
		var first, last float64 = math.MaxFloat64, 0
		for _, s := range g.Steps {
			if s.Bytes != nil {
				g.MaxBytes = max(g.MaxBytes, s.Bytes.In, s.Bytes.Out)
				if s.Input == "" {
					g.Bytes = s.Bytes.Out
				}
			}
			if !s.Started.IsZero() {
				first = math.Min(first, s.Started.Sub(r.Started).Seconds())
				last = math.Max(last, s.Finished.Sub(r.Started).Seconds())
			}
		}
		if last > first {
			g.Seconds = last - first
		}
		g.Rate = humanRate(g.Bytes, g.Seconds)
		out = append(out, *g)
	}
	return out
}

// round1 rounds an SVG coordinate to a tenth of a unit, which keeps the
// page small and readable.
func round1(x float64) float64 { return math.Round(x*10) / 10 }
