package reportview

import (
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"

	"github.com/sluice-dev/sluice/runner"
)

// overheadStats are the statistics assert-overhead compares, in table order.
var overheadStats = []string{"p50", "p90", "p95", "p99", "mean"}

type overheadRow struct {
	Query, Stat, Verdict string
	Ratio, Low, High     float64
	Baseline, Candidate  float64 // ms; 0 when unknown
	X, LowX, HighX       float64 // chart positions
	Y                    int
	Pass                 bool
}

type overheadView struct {
	Rows       []overheadRow // of all queries, charted
	Queries    []overheadRow // per query
	Limit      float64
	LimitX     float64
	ZeroX      float64
	Height     int
	HasLim     bool
	Confidence float64 // 0 when unknown
	Advice     string
	Measured   string // how long and how many samples, when known
}

var overheadTemplate = template.Must(template.New("overhead").Funcs(sectionFuncs).Parse(`
{{if .Advice}}<p>{{.Advice}}</p>{{end}}{{if .Measured}}<p class="muted">{{.Measured}}</p>{{end}}
<table><thead><tr><th>query</th><th>statistic</th><th class="num">baseline</th><th class="num">candidate</th><th class="num">overhead</th><th class="num">{{if .Confidence}}{{printf "%.1f" (mul100 .Confidence)}}% {{end}}confidence interval</th>{{if .HasLim}}<th class="num">limit</th>{{end}}<th>verdict</th></tr></thead><tbody>
{{range .Rows}}<tr><td>all queries</td><td>{{.Stat}}</td><td class="num">{{if .Baseline}}{{printf "%.3f" .Baseline}} ms{{end}}</td><td class="num">{{if .Candidate}}{{printf "%.3f" .Candidate}} ms{{end}}</td><td class="num">{{pct .Ratio}}</td><td class="num">{{pct .Low}} … {{pct .High}}</td>{{if $.HasLim}}<td class="num">{{pct $.Limit}}</td>{{end}}<td><span class="badge {{.Verdict}}">{{.Verdict}}</span></td></tr>{{end}}
{{range .Queries}}<tr><td>{{.Query}}</td><td>{{.Stat}}</td><td class="num">{{if .Baseline}}{{printf "%.3f" .Baseline}} ms{{end}}</td><td class="num">{{if .Candidate}}{{printf "%.3f" .Candidate}} ms{{end}}</td><td class="num">{{pct .Ratio}}</td><td class="num">{{pct .Low}} … {{pct .High}}</td>{{if $.HasLim}}<td class="num">{{pct $.Limit}}</td>{{end}}<td class="muted">{{.Verdict}}</td></tr>{{end}}
</tbody></table>
<svg role="img" aria-label="overhead with confidence interval against the limit" width="640" height="{{.Height}}" viewBox="0 0 640 {{.Height}}" xmlns="http://www.w3.org/2000/svg">
<line class="tick" x1="{{.ZeroX}}" y1="4" x2="{{.ZeroX}}" y2="{{.Height}}"/><text class="muted" x="{{.ZeroX}}" y="{{.Height}}" dy="-2" text-anchor="middle">0%</text>
{{if .HasLim}}<line x1="{{.LimitX}}" y1="4" x2="{{.LimitX}}" y2="{{.Height}}" stroke="#cf222e" stroke-dasharray="4 3"/><text x="{{.LimitX}}" y="{{.Height}}" dy="-2" fill="#cf222e" text-anchor="middle">limit {{pct .Limit}}</text>{{end}}
{{range .Rows}}<text x="4" y="{{add .Y 4}}">{{.Stat}}</text><line x1="{{.LowX}}" y1="{{.Y}}" x2="{{.HighX}}" y2="{{.Y}}" stroke="{{if .Pass}}#1a7f37{{else}}#cf222e{{end}}" stroke-width="6" stroke-linecap="round" opacity="0.45"/><circle cx="{{.X}}" cy="{{.Y}}" r="5" fill="{{if .Pass}}#1a7f37{{else}}#cf222e{{end}}"/>
{{end}}</svg>`))

// Overhead is the assert-overhead section: per statistic, the overhead ratio and its
// confidence interval against the limit, as a table and an interval chart.
func Overhead(s runner.StepReport) (*runner.ReportSection, error) {
	v := overheadView{}
	if lim, ok := runner.Number(s.Outputs["max"]); ok {
		v.Limit, v.HasLim = lim, true
	} else if lim, ok := runner.Number(s.Outputs["limit"]); ok {
		v.Limit, v.HasLim = lim, true
	}
	v.Confidence, _ = runner.Number(s.Outputs["confidence"])
	v.Advice = str(s.Outputs, "advice")
	if secs, ok := runner.Number(s.Outputs["seconds"]); ok {
		samples, _ := runner.Number(s.Outputs["samples"])
		v.Measured = fmt.Sprintf("Measured for %.0f s, %.0f samples per target; measuring stopped: %s.", secs, samples, str(s.Outputs, "stopped"))
	}
	lo, hi := 0.0, v.Limit
	for _, st := range overheadStats {
		r, ok := overheadRowOf(s.Outputs[st], "", st)
		if !ok {
			continue
		}
		v.Rows = append(v.Rows, r)
		lo, hi = math.Min(lo, r.Low), math.Max(hi, r.High)
	}
	if len(v.Rows) == 0 {
		return nil, nil
	}
	if qs, ok := asMap(s.Outputs["queries"]); ok {
		for _, q := range slices.Sorted(maps.Keys(qs)) {
			per, _ := asMap(qs[q])
			for _, st := range overheadStats {
				if r, ok := overheadRowOf(per[st], q, st); ok {
					v.Queries = append(v.Queries, r)
				}
			}
		}
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
	return execSection("Overhead against the limit", overheadTemplate, v)
}

// overheadRowOf reads one comparison's mapping (ratio, ci_low, ci_high,
// verdict, baseline, candidate).
func overheadRowOf(v any, query, stat string) (overheadRow, bool) {
	m, ok := asMap(v)
	if !ok {
		return overheadRow{}, false
	}
	r, ok1 := runner.Number(m["ratio"])
	l, ok2 := runner.Number(m["ci_low"])
	h, ok3 := runner.Number(m["ci_high"])
	if !ok1 || !ok2 || !ok3 {
		return overheadRow{}, false
	}
	b, _ := runner.Number(m["baseline"])
	c, _ := runner.Number(m["candidate"])
	verdict := str(m, "verdict")
	return overheadRow{Query: query, Stat: stat, Ratio: r, Low: l, High: h, Baseline: b, Candidate: c, Verdict: verdict, Pass: verdict == "pass"}, true
}
