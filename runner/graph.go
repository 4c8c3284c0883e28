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
// A step that runs a plan is drawn with that plan's steps in a cluster (a
// Mermaid subgraph, a dot cluster). A for_each whose items are known before
// the run (a list or map written out, or one of params, whose values come
// from params or else the defaults) is drawn expanded: one node, or one
// stream, or one cluster per item.
func Graph(p *Plan, format string, params ...map[string]any) (string, error) {
	var values map[string]any
	if len(params) > 0 {
		values = params[0]
	}
	g := &graphModel{}
	g.addPlan(&g.root, p, "", withDefaults(p, values))
	switch format {
	case "", "mermaid":
		return g.mermaid(), nil
	case "dot":
		return g.dot(p.Name), nil
	}
	return "", fmt.Errorf("unknown graph format %q (use mermaid or dot)", format)
}

// graphModel is the drawing: nodes in clusters, and edges between nodes.
type graphModel struct {
	root  graphCluster
	edges []graphEdge
}

// graphCluster holds nodes and clusters in plan order; the root has no
// label.
type graphCluster struct {
	label   string
	entries []graphEntry
}

// graphEntry is a node or a cluster.
type graphEntry struct {
	node    *graphNode
	cluster *graphCluster
}

type graphNode struct{ path, label string }

type graphEdge struct {
	from, to string
	stream   bool
}

// instance is one drawing of a step: the step itself, or one item of its
// for_each.
type instance struct {
	path string
	it   *staticItem // nil when not expanded
}

// addPlan draws p's steps into c, their paths under prefix.
func (g *graphModel) addPlan(c *graphCluster, p *Plan, prefix string, params map[string]any) {
	byID := make(map[string]*Step, len(p.Steps))
	for _, s := range p.Steps {
		byID[s.ID] = s
	}
	items := map[string][]staticItem{} // by fanning step, when known
	known := map[string]bool{}
	insts := map[string][]instance{}
	fanOf := map[string]*Step{}
	for _, s := range p.Steps {
		fan := planFan(byID, s)
		fanOf[s.ID] = fan
		if fan != nil {
			if _, done := known[fan.ID]; !done {
				items[fan.ID], known[fan.ID] = staticItems(fan, params)
			}
		}
		var list []instance
		if fan != nil && known[fan.ID] {
			for i := range items[fan.ID] {
				it := &items[fan.ID][i]
				list = append(list, instance{path: prefix + s.ID + "[" + it.label + "]", it: it})
			}
		} else {
			list = []instance{{path: prefix + s.ID}}
		}
		insts[s.ID] = list
		for _, in := range list {
			label := s.ID
			switch {
			case in.it != nil:
				label += " [" + in.it.label + "]"
			case fan != nil:
				label += " (for each)"
			}
			node := &graphNode{path: in.path, label: label + "\n" + s.Type}
			if s.Calls == nil {
				c.entries = append(c.entries, graphEntry{node: node})
				continue
			}
			sub := &graphCluster{label: label + ": plan " + s.Calls.File}
			sub.entries = append(sub.entries, graphEntry{node: node})
			g.addPlan(sub, s.Calls, in.path+"/", staticCallParams(s, params, in.it))
			c.entries = append(c.entries, graphEntry{cluster: sub})
		}
	}
	for _, s := range p.Steps {
		for _, d := range s.Deps {
			from, to := insts[d], insts[s.ID]
			paired := fanOf[d] != nil && fanOf[d] == fanOf[s.ID] && len(from) == len(to)
			for i, a := range from {
				for j, b := range to {
					if !paired || i == j {
						g.edges = append(g.edges, graphEdge{from: a.path, to: b.path, stream: d == s.Input})
					}
				}
			}
		}
	}
}

// planFan returns the step whose for_each runs s: s, or its stream's
// source; nil when s runs once.
func planFan(byID map[string]*Step, s *Step) *Step {
	seen := map[string]bool{}
	for cur := s; cur != nil && !seen[cur.ID]; cur = byID[cur.Input] {
		seen[cur.ID] = true
		if cur.ForEach != nil {
			return cur
		}
	}
	return nil
}

var mermaidID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// mermaidReserved are words mermaid does not accept as node ids.
var mermaidReserved = map[string]bool{"end": true, "graph": true, "subgraph": true, "flowchart": true, "style": true, "class": true, "click": true, "default": true}

func (g *graphModel) mermaid() string {
	ids := map[string]string{}
	used := map[string]bool{}
	n, clusters := 0, 0
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	var write func(c *graphCluster, indent string)
	write = func(c *graphCluster, indent string) {
		for _, e := range c.entries {
			if e.cluster != nil {
				clusters++
				fmt.Fprintf(&b, "%ssubgraph plan%d [\"%s\"]\n", indent, clusters, mermaidText(e.cluster.label))
				write(e.cluster, indent+"  ")
				fmt.Fprintf(&b, "%send\n", indent)
				continue
			}
			n++
			id := e.node.path
			if !mermaidID.MatchString(id) || mermaidReserved[strings.ToLower(id)] || used[id] {
				id = fmt.Sprintf("step%d", n)
			}
			used[id], ids[e.node.path] = true, id
			fmt.Fprintf(&b, "%s%s[\"%s\"]\n", indent, id, mermaidText(e.node.label))
		}
	}
	write(&g.root, "  ")
	for _, e := range g.edges {
		arrow := "-.->"
		if e.stream {
			arrow = "-->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", ids[e.from], arrow, ids[e.to])
	}
	return b.String()
}

func mermaidText(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `"`, "#quot;"), "\n", "<br/>")
}

func (g *graphModel) dot(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [shape=box];\n", strconv.Quote(name))
	clusters := 0
	var write func(c *graphCluster, indent string)
	write = func(c *graphCluster, indent string) {
		for _, e := range c.entries {
			if e.cluster != nil {
				clusters++
				fmt.Fprintf(&b, "%ssubgraph \"cluster_%d\" {\n%s  label=%s;\n", indent, clusters, indent, strconv.Quote(e.cluster.label))
				write(e.cluster, indent+"  ")
				fmt.Fprintf(&b, "%s}\n", indent)
				continue
			}
			fmt.Fprintf(&b, "%s%s [label=%s];\n", indent, strconv.Quote(e.node.path), strconv.Quote(e.node.label))
		}
	}
	write(&g.root, "  ")
	for _, e := range g.edges {
		style := " [style=dashed]"
		if e.stream {
			style = ""
		}
		fmt.Fprintf(&b, "  %s -> %s%s;\n", strconv.Quote(e.from), strconv.Quote(e.to), style)
	}
	b.WriteString("}\n")
	return b.String()
}
