package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const paramsPlan = `version: 1
params:
  db: {type: string, required: true, secret: true}
  retries: {type: int, default: 3}
  ratio: {type: number}
  dry-run: {type: bool, default: false}
  wait: {type: duration, default: 1m}
  hosts: {type: list}
  note: {type: string, description: optional}
steps:
  a: {type: check}
`

func paramsPlanT(t *testing.T) *Plan {
	t.Helper()
	p, err := Load("params.yaml", []byte(paramsPlan), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveParamsPrecedence(t *testing.T) {
	p := paramsPlanT(t)
	file := filepath.Join(t.TempDir(), "params.yaml")
	if err := os.WriteFile(file, []byte("retries: 5\nratio: 0.5\nhosts: [a, b]\nwait: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ResolveParams(p, ParamSources{
		Flags:   map[string]string{"db": "postgres://x", "retries": "7"},
		File:    file,
		Environ: []string{"SLUICE_PARAM_RETRIES=6", "SLUICE_PARAM_DRY_RUN=true", "SLUICE_PARAM_WAIT=10s", "OTHER=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"db": "postgres://x", "retries": 7, "ratio": 0.5, "dry-run": true,
		"wait": 10 * time.Second, "hosts": []any{"a", "b"}, "note": nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

func TestResolveParamsDefaultsAndLists(t *testing.T) {
	p := paramsPlanT(t)
	got, err := ResolveParams(p, ParamSources{Flags: map[string]string{"db": "postgres://app@db/app", "hosts": "a, b,c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got["retries"] != 3 || got["wait"] != time.Minute || got["dry-run"] != false || !reflect.DeepEqual(got["hosts"], []any{"a", "b", "c"}) {
		t.Errorf("got %#v", got)
	}
	got, err = ResolveParams(p, ParamSources{Flags: map[string]string{"db": "postgres://app@db/app", "hosts": `["a,b", 2]`}})
	if err != nil || !reflect.DeepEqual(got["hosts"], []any{"a,b", 2}) {
		t.Errorf("flow list: %#v, %v", got["hosts"], err)
	}
}

func TestResolveParamsErrors(t *testing.T) {
	p := paramsPlanT(t)
	file := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(file, []byte("ratio: lots\nretires: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ResolveParams(p, ParamSources{
		Flags:   map[string]string{"retries": "abc", "dbb": "x"},
		Environ: []string{"SLUICE_PARAM_WAIT=forever"},
		File:    file,
	})
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`--param dbb: plan "params" has no such param (did you mean "db"?)`,
		file + `:2:1: no such param "retires" (did you mean "retries"?)`,
		`param "db": required (set --param db=... or SLUICE_PARAM_DB)`,
		`param "retries": --param retries=abc: not an int`,
		`param "ratio": ` + file + `:1:8: not a number`,
		`param "wait": SLUICE_PARAM_WAIT=forever: not a duration (e.g. 90s, 2h)`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestResolveParamsHidesSecrets(t *testing.T) {
	src := strings.Replace(paramsPlan, "retries: {type: int, default: 3}", "retries: {type: int, secret: true}", 1)
	p, err := Load("params.yaml", []byte(src), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ResolveParams(p, ParamSources{Flags: map[string]string{"db": "postgres://app@db/app"}, Environ: []string{"SLUICE_PARAM_RETRIES=hunter2"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "SLUICE_PARAM_RETRIES=<secret>: not an int") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretValues(t *testing.T) {
	src := strings.Replace(paramsPlan, "hosts: {type: list}", "hosts: {type: list, secret: true}", 1)
	p, err := Load("params.yaml", []byte(src), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	got := SecretValues(p, map[string]any{"db": "s3cret", "hosts": []any{"h1", "h2"}, "retries": 3})
	if want := []string{"[h1 h2]", "h1", "h2", "s3cret"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SecretValues = %q, want %q", got, want)
	}
}

// TestResolveParamsTarget checks where an inventory target's values stand:
// below --param, above SLUICE_PARAM_* and the params file, and that their
// errors point into the inventory without quoting the value.
func TestResolveParamsTarget(t *testing.T) {
	p := paramsPlanT(t)
	file := filepath.Join(t.TempDir(), "params.yaml")
	if err := os.WriteFile(file, []byte("ratio: 0.5\nnote: from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var inv yaml.Node
	if err := yaml.Unmarshal([]byte("db: postgres://shop@db/shop\nretries: 8\nwait: 4s\nhosts: [x]\n"), &inv); err != nil {
		t.Fatal(err)
	}
	target := map[string]*yaml.Node{}
	m := inv.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		target[m.Content[i].Value] = m.Content[i+1]
	}
	got, err := ResolveParams(p, ParamSources{
		Flags:      map[string]string{"retries": "7"},
		Target:     target,
		TargetFile: "inv.yaml",
		File:       file,
		Environ:    []string{"SLUICE_PARAM_WAIT=10s", "SLUICE_PARAM_DRY_RUN=true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"db": "postgres://shop@db/shop", "retries": 7, "ratio": 0.5, "dry-run": true,
		"wait": 4 * time.Second, "hosts": []any{"x"}, "note": "from-file",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}

	bad := map[string]*yaml.Node{
		"retries": {Kind: yaml.ScalarNode, Value: "lots-of-them", Line: 3, Column: 14},
		"retires": {Kind: yaml.ScalarNode, Value: "1", Line: 4, Column: 5},
	}
	_, err = ResolveParams(p, ParamSources{Flags: map[string]string{"db": "postgres://x"}, Target: bad, TargetFile: "inv.yaml"})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`inv.yaml:3:14: not an int`, `inv.yaml:4:5: plan "params" has no param "retires" (did you mean "retries"?)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "lots-of-them") {
		t.Errorf("error quotes the value: %v", err)
	}
}

const mapPlan = `version: 1
params:
  dbs:   {type: map, default: {shop: "postgres://shop"}}
  creds: {type: map, secret: true}
  n:     {type: int, default: 1}
steps:
  a: {type: check}
`

// TestResolveParamsMap sets a map param whole (flag, environment, params
// file) and entry by entry with --param NAME.KEY=VALUE.
func TestResolveParamsMap(t *testing.T) {
	p, err := Load("map.yaml", []byte(mapPlan), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "params.yaml")
	if err := os.WriteFile(file, []byte("dbs: {crm: postgres://crm, shop: postgres://shop2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		src   ParamSources
		want  map[string]any
		creds map[string]any
	}{
		{"default", ParamSources{}, map[string]any{"shop": "postgres://shop"}, nil},
		{"file", ParamSources{File: file}, map[string]any{"crm": "postgres://crm", "shop": "postgres://shop2"}, nil},
		{"environment", ParamSources{Environ: []string{`SLUICE_PARAM_DBS={a: "1", b: "2"}`}}, map[string]any{"a": "1", "b": "2"}, nil},
		{"flag JSON", ParamSources{Flags: map[string]string{"dbs": `{"x": "postgres://x"}`}}, map[string]any{"x": "postgres://x"}, nil},
		// Entries replace the default and the file's map ...
		{"entries", ParamSources{File: file, Flags: map[string]string{"dbs.a": "postgres://a:b@h/a", "dbs.b": "y"}},
			map[string]any{"a": "postgres://a:b@h/a", "b": "y"}, nil},
		// ... and add to a whole map on the command line.
		{"whole and entries", ParamSources{Flags: map[string]string{"dbs": "{x: 1}", "dbs.y": "2"}}, map[string]any{"x": 1, "y": "2"}, nil},
		{"secret entries", ParamSources{Flags: map[string]string{"creds.shop": "password-one", "creds.crm": "password-two"}},
			map[string]any{"shop": "postgres://shop"}, map[string]any{"shop": "password-one", "crm": "password-two"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveParams(p, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got["dbs"], tc.want) {
				t.Errorf("dbs = %#v, want %#v", got["dbs"], tc.want)
			}
			if tc.creds != nil {
				if !reflect.DeepEqual(got["creds"], tc.creds) {
					t.Errorf("creds = %#v", got["creds"])
				}
				if s := SecretValues(p, got); !reflect.DeepEqual(s, []string{"password-one", "password-two"}) {
					t.Errorf("secrets = %v, want each value of the secret map", s)
				}
			}
		})
	}
	for _, tc := range []struct {
		flags map[string]string
		want  string
	}{
		{map[string]string{"n.x": "1"}, `--param n.x: param "n" is an int, not a map: set it with --param n=VALUE`},
		{map[string]string{"dbs": "[a, b]"}, `param "dbs": --param dbs=[a, b]: not a map`},
		{map[string]string{"dbz.a": "1"}, `--param dbz.a: plan "map" has no such param`},
		{map[string]string{"creds.a": "tiny1"}, `param "creds": a secret must be at least 6 characters long`},
	} {
		_, err := ResolveParams(p, ParamSources{Flags: tc.flags})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.flags, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err), "tiny1") {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}
