package render

import (
	"html/template"
	"math"

	"github.com/sluice-dev/sluice/runner"
)

// overheadStats are the statistics assert-overhead compares, in table order.
var overheadStats = []string{"p50", "p90", "p95", "p99", "mean"}

type overheadRow struct {
	Stat, Verdict    string
	Ratio, Low, High float64
	X, LowX, HighX   float64 // chart positions
	Y                int
	Pass             bool
}

type overheadView struct {
	Rows   []overheadRow
	Limit  float64
	LimitX float64
	ZeroX  float64
	Height int
	HasLim bool
}

var overheadTemplate = template.Must(template.New("overhead").Funcs(sectionFuncs).Parse(`
<table><thead><tr><th>statistic</th><th class="num">overhead</th><th class="num">confidence interval</th>{{if .HasLim}}<th class="num">limit</th>{{end}}<th>verdict</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Stat}}</td><td class="num">{{pct .Ratio}}</td><td class="num">{{pct .Low}} … {{pct .High}}</td>{{if $.HasLim}}<td class="num">{{pct $.Limit}}</td>{{end}}<td><span class="badge {{.Verdict}}">{{.Verdict}}</span></td></tr>{{end}}
</tbody></table>
<svg role="img" aria-label="overhead with confidence interval against the limit" width="640" height="{{.Height}}" viewBox="0 0 640 {{.Height}}" xmlns="http://www.w3.org/2000/svg">
<line class="tick" x1="{{.ZeroX}}" y1="4" x2="{{.ZeroX}}" y2="{{.Height}}"/><text class="muted" x="{{.ZeroX}}" y="{{.Height}}" dy="-2" text-anchor="middle">0%</text>
{{if .HasLim}}<line x1="{{.LimitX}}" y1="4" x2="{{.LimitX}}" y2="{{.Height}}" stroke="#cf222e" stroke-dasharray="4 3"/><text x="{{.LimitX}}" y="{{.Height}}" dy="-2" fill="#cf222e" text-anchor="middle">limit {{pct .Limit}}</text>{{end}}
{{range .Rows}}<text x="4" y="{{add .Y 4}}">{{.Stat}}</text><line x1="{{.LowX}}" y1="{{.Y}}" x2="{{.HighX}}" y2="{{.Y}}" stroke="{{if .Pass}}#1a7f37{{else}}#cf222e{{end}}" stroke-width="6" stroke-linecap="round" opacity="0.45"/><circle cx="{{.X}}" cy="{{.Y}}" r="5" fill="{{if .Pass}}#1a7f37{{else}}#cf222e{{end}}"/>
{{end}}</svg>`))

// overheadSection shows, per statistic, the overhead ratio and its
// confidence interval against the limit, as a table and an interval chart.
func overheadSection(s runner.StepReport) (*Section, error) {
	v := overheadView{}
	if lim, ok := number(s.Outputs["max"]); ok {
		v.Limit, v.HasLim = lim, true
	} else if lim, ok := number(s.Outputs["limit"]); ok {
		v.Limit, v.HasLim = lim, true
	}
	lo, hi := 0.0, v.Limit
	for _, st := range overheadStats {
		m, ok := asMap(s.Outputs[st])
		if !ok {
			continue
		}
		r, ok1 := number(m["ratio"])
		l, ok2 := number(m["ci_low"])
		h, ok3 := number(m["ci_high"])
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		verdict := str(m, "verdict")
		v.Rows = append(v.Rows, overheadRow{Stat: st, Ratio: r, Low: l, High: h, Verdict: verdict, Pass: verdict == "pass"})
		lo, hi = math.Min(lo, l), math.Max(hi, h)
	}
	if len(v.Rows) == 0 {
		return nil, nil
	}
	span := hi - lo
	if span <= 0 {
		span = 0.01
	}
	lo, hi = lo-0.1*span, hi+0.1*span
	x := func(f float64) float64 { return round1(60 + 560*(f-lo)/(hi-lo)) }
	for i := range v.Rows {
		r := &v.Rows[i]
		r.Y = 16 + 24*i
		r.X, r.LowX, r.HighX = x(r.Ratio), x(r.Low), x(r.High)
	}
	v.ZeroX, v.LimitX = x(0), x(v.Limit)
	v.Height = 16 + 24*len(v.Rows) + 14
	return execSection("assert-overhead", "Overhead against the limit", overheadTemplate, v)
}
