package runner

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// pickPlan is a plan with one pick step whose with: is given.
func pickPlan(with string) string {
	return "version: 1\nparams:\n  stat: {type: string, default: p95}\nsteps:\n  p:\n    type: pick\n    with: " + with + "\n"
}

func TestEnumRefusedAtLoad(t *testing.T) {
	cases := map[string]string{
		"{stat: p96}":                  `plan.yaml:7:18: step "p": with.stat: "p96" is not one of p50, p95, mean (did you mean "p95"?)`,
		"{also: [p50, maen]}":          `plan.yaml:7:24: step "p": with.also[1]: "maen" is not one of p50, p95, mean (did you mean "mean"?)`,
		`{also: [""]}`:                 `plan.yaml:7:19: step "p": with.also[0]: "" is not one of p50, p95, mean`,
		"{mode: loose}":                `plan.yaml:7:18: step "p": with.mode: "loose" is not one of strict, lenient`,
		"{rules: [{name: a, op: lt}]}": `plan.yaml:7:34: step "p": with.rules[0].op: "lt" is not one of le, ge (did you mean "le"?)`,
		// A nested literal is checked even when a sibling holds an expression.
		`{fallback: {name: "${{ params.stat }}", op: eq}}`: `step "p": with.fallback.op: "eq" is not one of le, ge`,
	}
	for with, want := range cases {
		_, err := Load("plan.yaml", []byte(pickPlan(with)), ltRegistry())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("with: %s\ngot  %v\nwant %s", with, err, want)
		}
	}
}

func TestEnumCheckedWhenBound(t *testing.T) {
	p, err := Load("plan.yaml", []byte(pickPlan(`{stat: "${{ params.stat }}"}`)), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	env := func(stat string) Env {
		return Env{"params": map[string]any{"stat": stat}, "env": map[string]any{}, "steps": map[string]any{}, "run": map[string]any{}, "plan": map[string]any{}}
	}
	v, err := p.Steps[0].Bind(env("mean"))
	if err != nil || v.(*ltPick).Stat != "mean" {
		t.Fatalf("bind mean: %+v, %v", v, err)
	}
	_, err = p.Steps[0].Bind(env("p999"))
	if want := `step "p": with.stat: "p999" is not one of p50, p95, mean`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("bind p999: %v, want %s", err, want)
	}
	// An empty value from an expression leaves the default, as before.
	v, err = p.Steps[0].Bind(env(""))
	if err != nil || v.(*ltPick).Stat != "p95" {
		t.Errorf("bind empty: %+v, %v", v, err)
	}
}

func TestDefaultsFromTagsOnly(t *testing.T) {
	v := bindNoExpr(t, `{stat: "", rules: [{name: a}, {name: b, op: ge, wait: 2d}], fallback: {name: c, op: ""}}`)
	minute := Duration{Clock: time.Minute}
	want := &ltPick{
		Stat:     "p95", // an empty string in a field with a closed set keeps the default
		Rules:    []ltRule{{Name: "a", Op: "le", Wait: minute}, {Name: "b", Op: "ge", Wait: Duration{Days: 2}}},
		Fallback: &ltRule{Name: "c", Op: "le", Wait: minute},
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("bound %+v\nwant  %+v", v, want)
	}
	// The struct the loader validated had them too: ltPick.Validate
	// refuses a rule without its defaults.
	if _, err := Load("plan.yaml", []byte(pickPlan(`{fallback: {name: c}}`)), ltRegistry()); err != nil {
		t.Errorf("loading a nested struct without its optional fields: %v", err)
	}
}

// bindNoExpr binds a step whose with: holds no expression.
func bindNoExpr(t *testing.T, with string) *ltPick {
	t.Helper()
	p, err := Load("plan.yaml", []byte(pickPlan(with)), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Steps[0].Bind(Env{"params": map[string]any{}, "env": map[string]any{}, "steps": map[string]any{}, "run": map[string]any{}, "plan": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	return v.(*ltPick)
}

func TestRetentionReadsMonths(t *testing.T) {
	if got := bindNoExpr(t, `{within: 1y6m}`).Within; got != (Duration{Months: 18}) {
		t.Errorf("within 1y6m = %+v, want 18 months", got)
	}
	// Other duration fields read m as minutes.
	if got := bindNoExpr(t, `{fallback: {name: x, wait: 6m}}`).Fallback.Wait; got != (Duration{Clock: 6 * time.Minute}) {
		t.Errorf("wait 6m = %+v, want 6 minutes", got)
	}
}

func TestParseDuration(t *testing.T) {
	ok := map[string]Duration{
		"":        {},
		"0":       {},
		"0s":      {},
		"90s":     {Clock: 90 * time.Second},
		"1h30m":   {Clock: 90 * time.Minute},
		"250ms":   {Clock: 250 * time.Millisecond},
		"4320h":   {Clock: 4320 * time.Hour},
		"180d":    {Days: 180},
		"1.5d":    {Days: 1, Clock: 12 * time.Hour},
		"2w":      {Days: 14},
		"6mo":     {Months: 6},
		"1y":      {Months: 12},
		"1y6mo":   {Months: 18},
		"2d12h":   {Days: 2, Clock: 12 * time.Hour},
		" 30d ":   {Days: 30},
		"1y2mo3d": {Months: 14, Days: 3},
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"forever", "5", "-5s", "1.5mo", "0.5y", "5 d", "d", "1x", "9999999y", "2562048h"} {
		if got, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %+v, want an error", bad, got)
		}
	}
	if _, err := ParseDuration("-5s"); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative: %v", err)
	}
	if got, err := ParseRetention("6m"); err != nil || got != (Duration{Months: 6}) {
		t.Errorf("ParseRetention(6m) = %+v, %v", got, err)
	}
	if got, err := ParseRetention("36h"); err != nil || got != (Duration{Clock: 36 * time.Hour}) {
		t.Errorf("ParseRetention(36h) = %+v, %v", got, err)
	}
}

func TestDurationStringRoundTrips(t *testing.T) {
	for _, s := range []string{"0s", "90ms", "1m30s", "5m", "36h", "14d", "1y", "6mo", "1y6mo", "2d12h", "3d1h0m5s"} {
		d, err := ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != s {
			t.Errorf("%q reads as %+v and prints as %q", s, d, d.String())
		}
		b, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("text round trip of %q: %+v, %v", s, back, err)
		}
	}
}

func TestDurationCalendar(t *testing.T) {
	mar31 := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	// One calendar month before March 31 normalises February 31 to March 3,
	// as time.AddDate does (and catalog's retention always did).
	if got := (Duration{Months: 1}).Before(mar31); !got.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("1mo before %v = %v", mar31, got)
	}
	if got := (Duration{Months: 12}).Before(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("1y before 2025-03-01 = %v (a leap year is 366 days)", got)
	}
	if got := (Duration{Days: 1, Clock: 12 * time.Hour}).Before(mar31); !got.Equal(time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("1d12h before %v = %v", mar31, got)
	}
	if got := (Duration{Days: 2, Clock: time.Hour}).Std(); got != 49*time.Hour {
		t.Errorf("Std(2d1h) = %v", got)
	}
	if got := (Duration{Months: 12}).Std(); got != time.Duration(365.2425*24*float64(time.Hour)) {
		t.Errorf("Std(1y) = %v", got)
	}
}

func TestDurationParams(t *testing.T) {
	// A duration param reads Go durations as before, and days and longer.
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "-1m": -time.Minute, "2d": 48 * time.Hour, "1w": 7 * 24 * time.Hour} {
		got, err := paramFromString(ParamDuration, in)
		if err != nil || got != want {
			t.Errorf("duration param %q = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := paramFromString(ParamDuration, "forever"); err == nil {
		t.Error("duration param forever accepted")
	}
}

func TestRegistryRefusesBrokenTags(t *testing.T) {
	type badDefault struct {
		Mode string `yaml:"mode" default:"medium" enum:"fast,slow"`
	}
	type nestedBadDefault struct {
		Rule struct {
			Wait Duration `yaml:"wait" default:"soon"`
		} `yaml:"rule"`
	}
	type enumOnInt struct {
		Level int `yaml:"level" enum:"1,2"`
	}
	type stdDuration struct {
		Wait time.Duration `yaml:"wait"`
	}
	type retentionOnString struct {
		Within string `yaml:"within" duration:"retention"`
	}
	cases := map[string]func() any{
		`field "mode": default "medium" is not one of its enum fast, slow`: func() any { return new(badDefault) },
		`field "rule.wait": default tag "soon"`:                            func() any { return new(nestedBadDefault) },
		`field "level": enum tag on a int`:                                 func() any { return new(enumOnInt) },
		`field "within": duration tag on a string`:                         func() any { return new(retentionOnString) },
	}
	cases["the New constructor returns a runner.ltRule with fields set"] = func() any { return &ltRule{Op: "le"} }
	cases[`field "wait": a time.Duration: use runner.Duration`] = func() any { return new(stdDuration) }
	for want, mk := range cases {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), want) {
					t.Errorf("NewRegistry panicked with %v, want %s", r, want)
				}
			}()
			NewRegistry(Definition{Type: "bad", Kind: KindAction, New: mk})
		}()
	}
}

func TestDescribeEnumsAndNested(t *testing.T) {
	d, _ := ltRegistry().Lookup("pick")
	doc, err := DescribeStepType(d)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ParamDoc{}
	var names []string
	for _, p := range doc.Params {
		got[p.Name] = p
		names = append(names, p.Name)
	}
	want := []string{"stat", "also", "mode", "within", "rules", "rules[].name", "rules[].op", "rules[].wait", "fallback", "fallback.name", "fallback.op", "fallback.wait"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("params %v, want %v", names, want)
	}
	if p := got["stat"]; !reflect.DeepEqual(p.Enum, []string{"p50", "p95", "mean"}) || p.Default != "p95" {
		t.Errorf("stat %+v", p)
	}
	if p := got["rules[].op"]; !reflect.DeepEqual(p.Enum, []string{"le", "ge"}) || p.Default != "le" || p.Type != "string" {
		t.Errorf("rules[].op %+v", p)
	}
	if p := got["within"]; p.Type != "duration" {
		t.Errorf("within %+v", p)
	}

	out, err := Schema(ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	pick := s.Defs["with-pick"].Properties
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for what, want := range map[string]string{
		enc(pick["stat"]):  `{"anyOf":[{"enum":["p50","p95","mean"],"type":"string"},`,
		enc(pick["also"]):  `{"anyOf":[{"items":{"enum":["p50","p95","mean"],"type":"string"},"type":"array"},`,
		enc(pick["rules"]): `"op":{"allOf":[{"anyOf":[{"enum":["le","ge"],"type":"string"},{"$ref":"#/$defs/interpolated"}]}],"default":"le","description":"comparison"}`,
	} {
		if !strings.Contains(what, want) {
			t.Errorf("schema %s\nwant it to hold %s", what, want)
		}
	}
}

func TestCheckOutputs(t *testing.T) {
	d := &Definition{Type: "x", Outputs: []OutputSpec{{Name: "bytes"}, {Name: "rows"}, {Name: "direct", Conditional: true}}}
	undeclared, missing := d.CheckOutputs(Outputs{"bytes": 1, "extra": 2, "more": 3})
	if !reflect.DeepEqual(undeclared, []string{"extra", "more"}) || !reflect.DeepEqual(missing, []string{"rows"}) {
		t.Errorf("undeclared %v, missing %v", undeclared, missing)
	}
	undeclared, missing = d.CheckOutputs(Outputs{"bytes": 1, "rows": 2, "direct": 3})
	if undeclared != nil || missing != nil {
		t.Errorf("undeclared %v, missing %v; want none", undeclared, missing)
	}
}

func TestDecodeParams(t *testing.T) {
	d, _ := ltRegistry().Lookup("pick")
	v, err := DecodeParams(d, "{rules: [{name: a}]}")
	if err != nil {
		t.Fatal(err)
	}
	if p := v.(*ltPick); p.Stat != "p95" || p.Rules[0].Op != "le" {
		t.Errorf("defaults not applied: %+v", p)
	}
	for with, want := range map[string]string{
		"{stat: p96}":                  `with.stat: "p96" is not one of p50, p95, mean`,
		"{stats: p95}":                 `with: field "stats" not recognised (did you mean "stat"?)`,
		`{stat: "${{ params.x }}"}`:    `needs a plan`,
		"[a]":                          `want a mapping`,
		"{rules: [{name: a, op: ne}]}": `with.rules[0].op: "ne" is not one of le, ge`,
	} {
		if _, err := DecodeParams(d, with); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeParams(%s) = %v, want %s", with, err, want)
		}
	}
}
