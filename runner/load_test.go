package runner

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadFillsPlan(t *testing.T) {
	p, err := LoadFile("../testdata/valid/backup.yaml", ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "backup" || p.Version != 1 || p.Settings.Concurrency != 2 || p.Settings.Timeout != 2*time.Hour {
		t.Errorf("plan header: name %q version %d settings %+v", p.Name, p.Version, p.Settings)
	}
	if got := p.Keys["backup"]; got.Store != "dir" || got.Path != "./keys/backup" || got.Options["note"] != "nightly" {
		t.Errorf("keys: %+v", got)
	}
	wantParams := map[string]any{"dest": "file://./backups", "rows": 5, "wait": 90 * time.Second, "tags": []any{"a", "b"}}
	for _, ps := range p.Params {
		if want, ok := wantParams[ps.Name]; ok && !reflect.DeepEqual(ps.Default, want) {
			t.Errorf("param %s default = %#v, want %#v", ps.Name, ps.Default, want)
		}
	}
	if db := p.Params[0]; db.Name != "db" || !db.Required || !db.Secret || db.Type != ParamString {
		t.Errorf("param db: %+v", db)
	}
	steps := map[string]*Step{}
	for _, s := range p.Steps {
		steps[s.ID] = s
		if s.Def == nil || s.Def.Type != s.Type {
			t.Errorf("step %s: Def not filled", s.ID)
		}
	}
	if ids := stepOrder(p); ids != "dump compress encrypt upload report" {
		t.Errorf("step order %q", ids)
	}
	up := steps["upload"]
	if up.Retry != (Retry{Attempts: 3, Backoff: 500 * time.Millisecond}) || up.Timeout != 10*time.Minute {
		t.Errorf("upload retry %+v timeout %v", up.Retry, up.Timeout)
	}
	// compress is in upload's stream, so the assert adds no dependency.
	if !reflect.DeepEqual(up.Deps, []string{"encrypt"}) {
		t.Errorf("upload deps %v", up.Deps)
	}
	rep := steps["report"]
	if !reflect.DeepEqual(rep.Deps, []string{"upload"}) || !rep.ContinueOnError {
		t.Errorf("report deps %v continue %v", rep.Deps, rep.ContinueOnError)
	}
	if rep.When == nil || rep.When.String() != `steps.upload.status == "succeeded"` {
		t.Errorf("report when %v", rep.When)
	}
	if len(rep.Asserts) != 2 || rep.Asserts[0].Message != "backup is empty" || rep.Asserts[1].Message != "" {
		t.Errorf("report asserts %+v", rep.Asserts)
	}
	if rep.Asserts[0].Pos.Line != 36 {
		t.Errorf("assert position %v", rep.Asserts[0].Pos)
	}
}

func stepOrder(p *Plan) string {
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	return strings.Join(ids, " ")
}

func TestLoadDepsFromExpressions(t *testing.T) {
	src := `version: 1
steps:
  a: {type: check}
  b: {type: check}
  c:
    type: check
    needs: [b, b]
    when: steps.a.ok && steps.b.ok
    with: {tags: ["${{ steps.a.status }}"]}
    assert: [steps.c.ok, "steps.b.stats.p50 > 1"]
`
	p, err := Load("deps.yaml", []byte(src), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Steps[2]; !reflect.DeepEqual(c.Deps, []string{"a", "b"}) {
		t.Errorf("deps %v, want [a b] (sorted, deduplicated, without self)", c.Deps)
	}
	if p.Name != "deps" || p.Settings.Concurrency != 4 {
		t.Errorf("defaults: name %q concurrency %d", p.Name, p.Settings.Concurrency)
	}
}

func TestLoadAnchorsAndMerge(t *testing.T) {
	p, err := LoadFile("../testdata/valid/anchors.yaml", ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "with-anchors" {
		t.Errorf("name %q", p.Name)
	}
	params, err := p.Steps[2].Bind(Env{})
	if err != nil {
		t.Fatal(err)
	}
	if st := params.(*ltStore); st.To != "file://x" || st.AllowPlaintext {
		t.Errorf("merged with: %+v", st)
	}
}

func TestLoadAliasBomb(t *testing.T) {
	src := "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 12; i++ {
		name := string(rune('b' + i))
		src += "x-" + name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	_, err := Load("bomb.yaml", []byte(src), ltRegistry())
	if err == nil || !strings.Contains(err.Error(), "too large once YAML aliases are expanded") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlanErrorsAs(t *testing.T) {
	_, err := Load("p.yaml", []byte("version: 2\nsteps: {a: {type: check}}\n"), ltRegistry())
	var list PlanErrors
	if !errors.As(err, &list) || len(list) != 1 || list[0].Pos.Line != 1 || list[0].Step != "" {
		t.Fatalf("errors.As PlanErrors: %v", err)
	}
	var ptr *PlanErrors
	if !errors.As(err, &ptr) || len(*ptr) != 1 {
		t.Fatalf("errors.As *PlanErrors: %v", err)
	}
	if got := list[0].Error(); got != `p.yaml:1:10: version must be 1, not "2"` {
		t.Errorf("message %q", got)
	}
}

func TestSuggestNothingClose(t *testing.T) {
	for _, name := range []string{"g", "zzzzzz", "x"} {
		if got := Suggest(name, append([]string{"a"}, topFields...)); got != "" {
			t.Errorf("Suggest(%q) = %q, want nothing", name, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"stpes", "steps"}, {"inptu", "input"}, {"verison", "version"}, {"Steps", "steps"}, {"continue-on-error", "continue_on_error"},
	} {
		got := Suggest(tc.name, append(topFields, stepFields...))
		if (tc.want == "") != (got == "") || !strings.Contains(got, `"`+tc.want+`"`) {
			t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPrivateKeys checks which key stores a plan may need private parts
// of: a store only public-key steps name is public; one a decrypting step
// names is private; a key chosen by an expression makes every store private
// unless the step only reads public parts.
func TestPrivateKeys(t *testing.T) {
	const plan = `version: 1
params:
  k: {type: string, default: a}
keys:
  a: {path: ./a}
  b: {path: ./b}
  c: {path: ./c}
steps:
  src: {type: src}
  seal: {type: seal, input: src, with: {key: a, extra_keys: [b]}}
  open: {type: open, input: seal, with: {key: b}}
  out: {type: store, input: open, with: {to: x, allow_plaintext: true}}
`
	p, err := Load("keys.yaml", []byte(plan), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.PrivateKeys(), map[string]bool{"a": false, "b": true, "c": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("private keys %v, want %v", got, want)
	}
	if s := p.Steps[1]; !reflect.DeepEqual(s.Keys, []string{"a", "b"}) {
		t.Errorf("seal names keys %v, want [a b]", s.Keys)
	}
	byExpr := strings.Replace(plan, "with: {key: b}", `with: {key: "${{ params.k }}"}`, 1)
	p, err = Load("keys.yaml", []byte(byExpr), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.PrivateKeys(), map[string]bool{"a": true, "b": true, "c": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("with a key by expression: private keys %v, want all", got)
	}
}
