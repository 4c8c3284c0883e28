package render_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/render"
	"github.com/sluice-dev/sluice/steps"
)

const schemaFile = "../../schemas/report.schema.json"

func loadSchemaDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

// jsonFields returns the JSON names of t's fields and which are required
// (written even when empty: no omitempty or omitzero).
func jsonFields(t reflect.Type) (all, required []string) {
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	sort.Strings(all)
	sort.Strings(required)
	return all, required
}

func schemaFields(t *testing.T, obj map[string]any) (all, required []string) {
	t.Helper()
	props, _ := obj["properties"].(map[string]any)
	for k, v := range props {
		all = append(all, k)
		if d, _ := v.(map[string]any)["description"].(string); d == "" {
			if _, isRef := v.(map[string]any)["$ref"]; !isRef {
				t.Errorf("schema property %q has no description", k)
			}
		}
	}
	for _, r := range obj["required"].([]any) {
		required = append(required, r.(string))
	}
	sort.Strings(all)
	sort.Strings(required)
	return all, required
}

// TestReportSchemaMatchesTypes keeps the committed schema in step with the
// Go types that write report.json: same fields, same required ones.
func TestReportSchemaMatchesTypes(t *testing.T) {
	doc := loadSchemaDoc(t)
	defs := doc["$defs"].(map[string]any)
	if v := doc["properties"].(map[string]any)["version"].(map[string]any)["const"]; v != float64(runner.ReportVersion) {
		t.Errorf("schema is for version %v, the code writes %d", v, runner.ReportVersion)
	}
	for _, c := range []struct {
		typ reflect.Type
		obj map[string]any
	}{
		{reflect.TypeFor[runner.Report](), doc},
		{reflect.TypeFor[runner.StepReport](), defs["step"].(map[string]any)},
		{reflect.TypeFor[runner.ByteCounts](), defs["bytes"].(map[string]any)},
		{reflect.TypeFor[runner.GateResult](), defs["gate"].(map[string]any)},
	} {
		goAll, goReq := jsonFields(c.typ)
		sAll, sReq := schemaFields(t, c.obj)
		if !reflect.DeepEqual(goAll, sAll) {
			t.Errorf("%s: fields %v, schema has %v: update schemas/report.schema.json", c.typ.Name(), goAll, sAll)
		}
		if !reflect.DeepEqual(goReq, sReq) {
			t.Errorf("%s: required %v, schema requires %v", c.typ.Name(), goReq, sReq)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

// runPlan runs a plan of real steps (a file copy through a checksum) and
// returns its report.json as written.
func runPlan(t *testing.T, gate string) []byte {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(in, []byte("bytes that stand for a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := `version: 1
params:
  token: {type: string, default: hunter2, secret: true}
steps:
  read: {type: download, with: {from: "` + in + `", allow_unsigned: true}}
  sum: {type: checksum, input: read}
  write:
    type: upload
    input: sum
    with: {to: "file://` + filepath.Join(dir, "out.bin") + `", allow_plaintext: true, unsigned: true}
    assert:
      - that: ` + gate + `
        message: sizes differ
  skipped: {type: exec, when: "false", with: {command: [echo]}}
`
	p, err := runner.Load(filepath.Join(dir, "plan.yaml"), []byte(plan), steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	rep, _ := runner.Run(context.Background(), p, runner.RunOptions{StateDir: state, Params: map[string]any{}})
	if rep == nil {
		t.Fatal("no report")
	}
	b, err := os.ReadFile(filepath.Join(runner.RunDir(state, rep.RunID), runner.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealReportsValidateAgainstSchema(t *testing.T) {
	s := compileSchema(t)
	for _, gate := range []string{"steps.write.bytes == steps.read.bytes", "steps.write.bytes > 1000"} {
		b := runPlan(t, gate)
		if err := validate(t, s, b); err != nil {
			t.Errorf("report of a run with gate %q does not match the schema: %v\n%s", gate, err, b)
		}
		if bytes.Contains(b, []byte("hunter2")) {
			t.Error("secret param in report.json")
		}
		// Every format renders from the file as written.
		rep, err := runner.ReadReport(writeTemp(t, b))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range render.Formats {
			var out bytes.Buffer
			if err := render.Render(&out, f, rep, nil); err != nil || out.Len() == 0 {
				t.Errorf("rendering %s: %v", f, err)
			}
		}
	}
	// The check can fail.
	for _, bad := range []string{
		`{"version": 1}`,
		strings.Replace(string(runPlan(t, "true")), `"status": "succeeded"`, `"status": "fine"`, 1),
		strings.Replace(string(runPlan(t, "true")), `"plan":`, `"surprise": 1, "plan":`, 1),
	} {
		if err := validate(t, s, []byte(bad)); err == nil {
			t.Errorf("schema accepted an invalid report: %.80s", bad)
		}
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
