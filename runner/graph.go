package runner

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Graph renders the plan's dependency graph. format is "mermaid" (the
// default when empty) or "dot". Stream edges (input:) are solid; other
// dependencies (needs: and expression references) are dotted or dashed.
func Graph(p *Plan, format string) (string, error) {
	switch format {
	case "", "mermaid":
		return graphMermaid(p), nil
	case "dot":
		return graphDot(p), nil
	}
	return "", fmt.Errorf("unknown graph format %q (use mermaid or dot)", format)
}

var mermaidID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// mermaidReserved are words mermaid does not accept as node ids.
var mermaidReserved = map[string]bool{"end": true, "graph": true, "subgraph": true, "flowchart": true, "style": true, "class": true, "click": true, "default": true}

func graphMermaid(p *Plan) string {
	ids := make(map[string]string, len(p.Steps))
	for i, s := range p.Steps {
		id := s.ID
		if !mermaidID.MatchString(id) || mermaidReserved[strings.ToLower(id)] {
			id = fmt.Sprintf("step%d", i+1)
		}
		ids[s.ID] = id
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, s := range p.Steps {
		label := strings.ReplaceAll(s.ID+"<br/>"+s.Type, `"`, "#quot;")
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", ids[s.ID], label)
	}
	for _, s := range p.Steps {
		for _, d := range s.Deps {
			arrow := "-.->"
			if d == s.Input {
				arrow = "-->"
			}
			fmt.Fprintf(&b, "  %s %s %s\n", ids[d], arrow, ids[s.ID])
		}
	}
	return b.String()
}

func graphDot(p *Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [shape=box];\n", strconv.Quote(p.Name))
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "  %s [label=%s];\n", strconv.Quote(s.ID), strconv.Quote(s.ID+"\n"+s.Type))
	}
	for _, s := range p.Steps {
		for _, d := range s.Deps {
			style := " [style=dashed]"
			if d == s.Input {
				style = ""
			}
			fmt.Fprintf(&b, "  %s -> %s%s;\n", strconv.Quote(d), strconv.Quote(s.ID), style)
		}
	}
	b.WriteString("}\n")
	return b.String()
}
