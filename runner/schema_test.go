package runner

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestSchema(t *testing.T) {
	reg := ltRegistry()
	out, err := Schema(reg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Schema(reg)
	if !bytes.Equal(out, again) {
		t.Fatal("schema output is not deterministic")
	}
	var s struct {
		Schema string `json:"$schema"`
		Defs   map[string]struct {
			Type                 string                     `json:"type"`
			Required             []string                   `json:"required"`
			AdditionalProperties any                        `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
			Outputs              []map[string]string        `json:"x-outputs"`
			AllOf                []json.RawMessage          `json:"allOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema %q", s.Schema)
	}
	seal := s.Defs["with-seal"]
	if !reflect.DeepEqual(seal.Required, []string{"key"}) || seal.AdditionalProperties != false || len(seal.Properties) != 2 {
		t.Errorf("with-seal: %+v", seal)
	}
	var rows map[string]any
	if err := json.Unmarshal(s.Defs["with-src"].Properties["rows"], &rows); err != nil {
		t.Fatal(err)
	}
	if rows["default"] != float64(10) || rows["description"] != "rows to write" {
		t.Errorf("with-src rows: %v", rows)
	}
	if outs := s.Defs["with-store"].Outputs; len(outs) != 2 || outs[0]["name"] != "bytes" {
		t.Errorf("store outputs %v", outs)
	}
	if n := len(s.Defs["step"].AllOf); n != len(reg.Types()) {
		t.Errorf("step has %d type branches, want %d", n, len(reg.Types()))
	}
}

func TestDescribeStepType(t *testing.T) {
	d, _ := ltRegistry().Lookup("src")
	doc, err := DescribeStepType(d)
	if err != nil {
		t.Fatal(err)
	}
	want := []ParamDoc{
		{Name: "rows", Type: "int", Default: "10", Doc: "rows to write"},
		{Name: "name", Type: "string", Doc: "a label"},
		{Name: "timeout", Type: "duration", Default: "30s", Doc: "how long to wait"},
		{Name: "chunk", Type: "size", Default: "64KiB", Doc: "write size"},
	}
	if !reflect.DeepEqual(doc.Params, want) || doc.Kind != KindSource || doc.Summary != "Writes rows." {
		t.Errorf("doc %+v", doc)
	}
	if n := len(doc.Outputs); n != 3 || doc.Outputs[2].Name != "status" {
		t.Errorf("outputs %+v", doc.Outputs)
	}
	d, _ = ltRegistry().Lookup("check")
	doc, _ = DescribeStepType(d)
	types := map[string]string{}
	for _, p := range doc.Params {
		types[p.Name] = p.Type
	}
	if types["labels"] != "map of string" || types["levels"] != "list of mapping" || types["limit"] != "number" {
		t.Errorf("check types %v", types)
	}
}
