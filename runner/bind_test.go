package runner

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const bindPlan = `version: 1
params:
  rows: {type: int, default: 7}
  to: {type: string, default: ""}
  tags: {type: list, default: [a, b]}
  wait: {type: duration, default: 2m}
steps:
  src:
    type: src
    with:
      rows: ${{ params.rows * 2 }}
      timeout: ${{ params.wait }}
      chunk: "${{ 2 }}MiB"
      name: "rows=${{ params.rows }} at ${{ env.STAGE }}"
  plain: {type: src}
  keep: {type: store, input: plain, with: {to: out, allow_plaintext: true}}
  x: {type: xform, input: src, with: {level: "${{ env.LEVEL }}", mode: "${{ env.MODE }}"}}
  s: {type: store, input: x, with: {to: "${{ params.to }}", allow_plaintext: true}}
  c:
    type: check
    with:
      limit: ${{ 1.5 }}
      labels: {stage: "${{ env.STAGE }}", fixed: yes}
      levels: [{name: "${{ env.STAGE }}", limit: "${{ params.rows }}"}]
      tags: ${{ params.tags }}
      every: 10s
`

func bindSteps(t *testing.T) map[string]*Step {
	t.Helper()
	p, err := Load("bind.yaml", []byte(bindPlan), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Step{}
	for _, s := range p.Steps {
		out[s.ID] = s
	}
	return out
}

func bindEnv(envVars map[string]any, params map[string]any) Env {
	p := map[string]any{"rows": 7, "to": "", "tags": []any{"a", "b"}, "wait": 2 * time.Minute}
	for k, v := range params {
		p[k] = v
	}
	return Env{"params": p, "env": envVars, "steps": map[string]any{}, "run": map[string]any{}, "plan": map[string]any{}}
}

func TestBindResolvesExpressions(t *testing.T) {
	st := bindSteps(t)
	env := bindEnv(map[string]any{"STAGE": "ci", "LEVEL": "9", "MODE": "slow"}, nil)
	v, err := st["src"].Bind(env)
	if err != nil {
		t.Fatal(err)
	}
	want := &ltSource{Rows: 14, Timeout: Duration{Clock: 2 * time.Minute}, Chunk: 2 << 20, Name: "rows=7 at ci"}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("src params %+v, want %+v", v, want)
	}
	// A string from the environment fits an int field when it parses.
	v, err = st["x"].Bind(env)
	if err != nil {
		t.Fatal(err)
	}
	if x := v.(*ltTransform); x.Level != 9 || x.Mode != "slow" {
		t.Errorf("xform params %+v", x)
	}
	v, err = st["c"].Bind(env)
	if err != nil {
		t.Fatal(err)
	}
	c := v.(*ltCheck)
	if c.Limit != 1.5 || c.Every != (Duration{Clock: 10 * time.Second}) || !reflect.DeepEqual(c.Tags, []string{"a", "b"}) ||
		!reflect.DeepEqual(c.Labels, map[string]string{"stage": "ci", "fixed": "yes"}) ||
		!reflect.DeepEqual(c.Levels, []ltLevel{{Name: "ci", Limit: 7}}) {
		t.Errorf("check params %+v", c)
	}
}

func TestBindDefaults(t *testing.T) {
	v, err := bindSteps(t)["plain"].Bind(bindEnv(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (&ltSource{Rows: 10, Timeout: Duration{Clock: 30 * time.Second}, Chunk: 64 << 10}); !reflect.DeepEqual(v, want) {
		t.Errorf("defaults %+v, want %+v", v, want)
	}
}

func TestBindErrors(t *testing.T) {
	st := bindSteps(t)
	for _, tc := range []struct {
		step string
		env  Env
		want string
	}{
		{"s", bindEnv(nil, nil), `step "s": with.to: required, but the value is empty`},
		{"x", bindEnv(map[string]any{"LEVEL": "high", "MODE": "fast"}, nil), `step "x": with.level: want an integer, got "high"`},
		{"x", bindEnv(map[string]any{"LEVEL": "1", "MODE": "medium"}, nil), `step "x": with: mode must be "fast" or "slow"`},
		{"src", bindEnv(nil, map[string]any{"rows": "many"}), `step "src": with.rows: evaluating "params.rows * 2"`},
		{"c", bindEnv(nil, map[string]any{"tags": 5}), `step "c": with.tags: want a list, got "5"`},
	} {
		_, err := st[tc.step].Bind(tc.env)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Bind(%s) = %v, want prefix %q", tc.step, err, tc.want)
		}
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]Size{"1024": 1024, "64MiB": 64 << 20, "1.5 GB": 1500000000, "512k": 512000, "2KiB": 2048, "0": 0} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "12 parsecs", "1e3"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if s := Size(64 << 20).String(); s != "64MiB" {
		t.Errorf("String = %q", s)
	}
}
