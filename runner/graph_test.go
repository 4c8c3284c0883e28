package runner

import (
	"strings"
	"testing"
)

const graphPlan = `version: 1
name: g
keys: {k: {path: ./k}}
steps:
  dump: {type: src}
  seal: {type: seal, input: dump, with: {key: k}}
  end: {type: store, input: seal, with: {to: x}}
  report: {type: check, needs: end, when: steps.dump.rows > 0}
`

func TestGraph(t *testing.T) {
	p, err := Load("g.yaml", []byte(graphPlan), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	mermaid := `flowchart LR
  dump["dump<br/>src"]
  seal["seal<br/>seal"]
  step3["end<br/>store"]
  report["report<br/>check"]
  dump --> seal
  seal --> step3
  dump -.-> report
  step3 -.-> report
`
	dot := `digraph "g" {
  rankdir=LR;
  node [shape=box];
  "dump" [label="dump\nsrc"];
  "seal" [label="seal\nseal"];
  "end" [label="end\nstore"];
  "report" [label="report\ncheck"];
  "dump" -> "seal";
  "seal" -> "end";
  "dump" -> "report" [style=dashed];
  "end" -> "report" [style=dashed];
}
`
	for format, want := range map[string]string{"": mermaid, "mermaid": mermaid, "dot": dot} {
		got, err := Graph(p, format)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Graph(%q):\n%s\nwant:\n%s", format, got, want)
		}
	}
	if _, err := Graph(p, "svg"); err == nil || err.Error() != `unknown graph format "svg" (use mermaid or dot)` {
		t.Errorf("unknown format: %v", err)
	}
}

// TestGraphComposed draws a plan that calls another for each entry of a
// map param: the items are known from the default, so each gets a cluster
// with the called plan's steps; given params change the expansion.
func TestGraphComposed(t *testing.T) {
	p, err := LoadFile("../testdata/valid/compose.yaml", ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Graph(p, "mermaid")
	if err != nil {
		t.Fatal(err)
	}
	want := `flowchart LR
  subgraph plan1 ["backup [crm]: plan ../testdata/valid/compose_backup.yaml"]
    step1["backup [crm]<br/>plan"]
    step2["dump<br/>src"]
    step3["up<br/>store"]
  end
  subgraph plan2 ["backup [shop]: plan ../testdata/valid/compose_backup.yaml"]
    step4["backup [shop]<br/>plan"]
    step5["dump<br/>src"]
    step6["up<br/>store"]
  end
  check["check<br/>check"]
  step2 --> step3
  step5 --> step6
  step1 -.-> check
  step4 -.-> check
`
	if got != want {
		t.Errorf("mermaid:\n%s\nwant:\n%s", got, want)
	}
	dot, err := Graph(p, "dot", map[string]any{"dbs": map[string]any{"hr": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`subgraph "cluster_1" {`,
		`label="backup [hr]: plan ../testdata/valid/compose_backup.yaml";`,
		`"backup[hr]/dump" -> "backup[hr]/up";`,
		`"backup[hr]" -> "check" [style=dashed];`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot lacks %q:\n%s", want, dot)
		}
	}
	if strings.Contains(dot, "shop") {
		t.Errorf("the given params did not replace the default items:\n%s", dot)
	}
}

// TestGraphForEachUnknown draws a for_each known only at run time once,
// marked.
func TestGraphForEachUnknown(t *testing.T) {
	p, err := Load("g.yaml", []byte(`version: 1
steps:
  list: {type: check}
  each: {type: check, for_each: steps.list.stats}
`), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Graph(p, "dot")
	if !strings.Contains(got, `"each" [label="each (for each)\ncheck"];`) {
		t.Errorf("dot:\n%s", got)
	}
	if keys, ok := KnownItems(p, p.Steps[1], nil); ok || keys != nil {
		t.Errorf("KnownItems = %v, %v", keys, ok)
	}
}
