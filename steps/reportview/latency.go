package reportview

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
)

// statNames are the latency statistics a measure step reports, in the order
// the table shows them.
var statNames = []string{"count", "tps", "mean", "stddev", "min", "p50", "p90", "p95", "p99", "max"}

// statValue finds a statistic under its plain name or with a unit suffix.
func statValue(m map[string]any, stat string) (float64, string, bool) {
	for _, suffix := range []string{"", "_ms", "_us", "_seconds"} {
		if v, ok := runner.Number(m[stat+suffix]); ok {
			return v, suffix, true
		}
	}
	return 0, "", false
}

// cdfLine is one target's cumulative distribution as an SVG polyline.
type cdfLine struct {
	Name, Points, Color string
}

var palette = []string{"#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a"}

type measureView struct {
	Stats   []string
	Targets []measureTarget
	CDF     []cdfLine
	MaxX    string
	Unit    string
}

type measureTarget struct {
	Name   string
	Values []string
}

var measureTemplate = template.Must(template.New("measure").Funcs(sectionFuncs).Parse(`
<table><thead><tr><th>target</th>{{range .Stats}}<th class="num">{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Targets}}<tr><td>{{.Name}}</td>{{range .Values}}<td class="num">{{.}}</td>{{end}}</tr>{{end}}
</tbody></table>
{{if .CDF}}<svg role="img" aria-label="latency distribution per target" width="640" height="260" viewBox="0 0 640 260" xmlns="http://www.w3.org/2000/svg">
<line class="tick" x1="50" y1="220" x2="620" y2="220"/><line class="tick" x1="50" y1="10" x2="50" y2="220"/>
<text class="muted" x="46" y="14" text-anchor="end">100%</text><text class="muted" x="46" y="222" text-anchor="end">0%</text>
<text class="muted" x="620" y="236" text-anchor="end">{{.MaxX}}{{.Unit}}</text><text class="muted" x="335" y="252" text-anchor="middle">latency (cumulative share of queries)</text>
{{range $i, $l := .CDF}}<polyline fill="none" stroke="{{$l.Color}}" stroke-width="2" points="{{$l.Points}}"/><text x="60" y="{{legendY $i}}" fill="{{$l.Color}}">{{$l.Name}}</text>
{{end}}</svg>{{end}}`))

// Measure is the measure section: the latency statistics per target and, when the
// outputs carry histograms, their cumulative distributions.
func Measure(s runner.StepReport) (*runner.ReportSection, error) {
	targets, ok := asMap(s.Outputs["targets"])
	if !ok {
		return nil, nil
	}
	v := measureView{Unit: "ms"} // measure reports milliseconds
	present := map[string]bool{}
	for _, name := range sortedKeys(targets) {
		m, _ := asMap(targets[name])
		for _, st := range statNames {
			if _, suffix, ok := statValue(m, st); ok {
				present[st] = true
				if st != "count" && st != "tps" && suffix != "" {
					v.Unit = strings.TrimPrefix(suffix, "_")
				}
			}
		}
	}
	for _, st := range statNames {
		if present[st] {
			v.Stats = append(v.Stats, st)
		}
	}
	if len(v.Stats) == 0 {
		return nil, nil
	}
	var hists [][][2]float64
	var names []string
	maxX := 0.0
	for _, name := range sortedKeys(targets) {
		m, _ := asMap(targets[name])
		t := measureTarget{Name: name}
		for _, st := range v.Stats {
			x, _, ok := statValue(m, st)
			if ok {
				t.Values = append(t.Values, render.Scalar(x))
			} else {
				t.Values = append(t.Values, "")
			}
		}
		v.Targets = append(v.Targets, t)
		if h := histogram(m["histogram"]); len(h) > 0 {
			hists, names = append(hists, h), append(names, name)
			maxX = math.Max(maxX, h[len(h)-1][0])
		}
	}
	for i, h := range hists {
		v.CDF = append(v.CDF, cdfLine{Name: names[i], Color: palette[i%len(palette)], Points: cdfPoints(h, maxX)})
	}
	v.MaxX = render.Scalar(maxX)
	return execSection("Latency per target", measureTemplate, v)
}

// histogram reads buckets written as [{"low": a, "high": x, "count": n}, ...]
// (measure's log buckets; "le", "upper" or "value" also name the bound) or [[x, n], ...], sorted by bound.
func histogram(v any) [][2]float64 {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	var out [][2]float64
	for _, e := range list {
		switch b := e.(type) {
		case map[string]any:
			var x float64
			found := false
			for _, k := range []string{"high", "le", "upper", "value", "bound"} {
				if x, found = runner.Number(b[k]); found {
					break
				}
			}
			n, ok := runner.Number(b["count"])
			if found && ok {
				out = append(out, [2]float64{x, n})
			}
		case []any:
			if len(b) == 2 {
				x, ok1 := runner.Number(b[0])
				n, ok2 := runner.Number(b[1])
				if ok1 && ok2 {
					out = append(out, [2]float64{x, n})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// cdfPoints draws the cumulative share of a histogram in the chart box
// x 50..620, y 220 (0%) .. 10 (100%).
func cdfPoints(h [][2]float64, maxX float64) string {
	total := 0.0
	for _, b := range h {
		total += b[1]
	}
	if total <= 0 || maxX <= 0 {
		return ""
	}
	var pts []string
	cum := 0.0
	pts = append(pts, "50,220")
	for _, b := range h {
		cum += b[1]
		x := 50 + 570*b[0]/maxX
		y := 220 - 210*cum/total
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	return strings.Join(pts, " ")
}
