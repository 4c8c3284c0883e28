package runner

import "testing"

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
