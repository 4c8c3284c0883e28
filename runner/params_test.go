package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
