package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
)

const schemaFile = "../../schemas/plan.schema.json"

// TestSchemaUpToDate fails when the committed schemas/plan.schema.json
// differs from what the step registry generates.
func TestSchemaUpToDate(t *testing.T) {
	want, err := runner.Schema(steps.Builtin())
	if err != nil {
		t.Fatalf("generating schema: %v", err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("reading committed schema: %v (run 'make schema')", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schemas/plan.schema.json is stale: run 'make schema' and commit it\n%s", firstDiff(got, want))
	}
}

// firstDiff describes the first line where the committed schema (got)
// and the generated one (want) differ.
func firstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  committed: %s\n  generated: %s", i+1, gl, wl)
		}
	}
	return "files differ"
}

// compileSchema compiles the committed schema; compiling checks it
// against the JSON Schema 2020-12 meta-schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("plan.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("plan.schema.json")
	if err != nil {
		t.Fatalf("schema is not valid JSON Schema: %v", err)
	}
	return sch
}

// yamlAsJSON decodes a YAML plan into the values a JSON decoder would
// produce, which is what the validator expects.
func yamlAsJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("parsing YAML: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("converting to JSON: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaAcceptsPlans checks that the committed plans and the
// real-registry fixtures validate against the schema.
func TestSchemaAcceptsPlans(t *testing.T) {
	sch := compileSchema(t)
	for _, file := range realPlans(t) {
		t.Run(planName(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(yamlAsJSON(t, data)); err != nil {
				t.Errorf("%s does not match schemas/plan.schema.json:\n%v", file, err)
			}
		})
	}
}

// TestSchemaRejects checks that the schema is not vacuous: plans that the
// loader rejects for their shape are rejected by the schema too.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	cases := map[string]string{
		"unknown top-level field": "version: 1\nstpes: {}\nsteps: {a: {type: download, with: {from: x}}}\n",
		"unknown step field":      "version: 1\nsteps: {a: {type: download, inptu: b, with: {from: x}}}\n",
		"unknown with field":      "version: 1\nsteps: {a: {type: download, with: {form: x}}}\n",
		"unknown step type":       "version: 1\nsteps: {a: {type: dwnload}}\n",
		"wrong value type":        "version: 1\nsteps: {a: {type: compress, input: b, with: {level: high}}}\n",
		"missing required":        "version: 1\nsteps: {a: {type: upload, input: b, with: {overwrite: true}}}\n",
		"wrong version":           "version: 2\nsteps: {a: {type: download, with: {from: x}}}\n",
		"bad duration":            "version: 1\nsettings: {timeout: soon}\nsteps: {a: {type: download, with: {from: x}}}\n",
	}
	for name, plan := range cases {
		t.Run(name, func(t *testing.T) {
			if err := sch.Validate(yamlAsJSON(t, []byte(plan))); err == nil {
				t.Errorf("schema accepted an invalid plan:\n%s", plan)
			}
		})
	}
	// The same plans with the mistake fixed pass, so the failures above
	// are about the mistakes.
	ok := "version: 1\nsteps: {a: {type: compress, input: b, with: {level: 3}}, b: {type: download, with: {from: x}}}\n"
	if err := sch.Validate(yamlAsJSON(t, []byte(ok))); err != nil {
		t.Errorf("schema rejected a valid plan: %v", err)
	}
}
