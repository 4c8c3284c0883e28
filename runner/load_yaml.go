package runner

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseYAML parses src, the contents of file, as one YAML document the way
// sluice reads its files (plans, inventories): aliases and merge keys (<<)
// are expanded, within a bound that stops alias bombs; a syntax error, a
// repeated key or a file too large once expanded comes back as PlanErrors
// with file:line:col. The root is nil for an empty document.
func ParseYAML(file string, src []byte) (*yaml.Node, error) {
	el := &errList{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		el.errs = append(el.errs, yamlSyntaxError(file, err))
		return nil, el.result()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	budget := maxExpandedNodes
	if !expandAliases(root, &budget, 0) {
		el.add(root, "", "file is too large once YAML aliases are expanded (more than %d nodes)", maxExpandedNodes)
		return nil, el.result()
	}
	checkDuplicates(el, root)
	if err := el.result(); err != nil {
		return nil, err
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntaxError turns a yaml.v3 parse error into a positioned PlanError.
func yamlSyntaxError(file string, err error) *PlanError {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	pe := &PlanError{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		pe.Pos.Line, _ = strconv.Atoi(m[1])
		pe.Msg = "invalid YAML: " + m[2]
	}
	return pe
}

// checkDuplicates reports repeated keys in every mapping of the tree.
func checkDuplicates(el *errList, n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if prev, dup := first[k.Value]; dup {
				el.add(k, "", "duplicate key %q (first defined at line %d)", k.Value, prev.Line)
				continue
			}
			first[k.Value] = k
		}
	}
	if n.Kind == yaml.AliasNode {
		return
	}
	for _, c := range n.Content {
		checkDuplicates(el, c)
	}
}

// maxExpandedNodes bounds the work of expanding aliases, so that a small
// file of nested aliases cannot make loading hang.
const maxExpandedNodes = 100000

// expandAliases replaces alias nodes by what they name and applies merge
// keys (<<), so that the rest of the loader sees plain nodes. It reports
// false when the tree grows past the budget.
func expandAliases(n *yaml.Node, budget *int, depth int) bool {
	*budget--
	if *budget < 0 || depth > 1000 {
		return false
	}
	for i, c := range n.Content {
		for c.Kind == yaml.AliasNode && c.Alias != nil {
			c = c.Alias
		}
		n.Content[i] = c
		if !expandAliases(c, budget, depth+1) {
			return false
		}
	}
	if n.Kind == yaml.MappingNode {
		n.Content = applyMerges(n.Content)
	}
	return true
}

// applyMerges replaces `<<: mapping` (or a list of mappings) by the merged
// pairs that the mapping does not set itself.
func applyMerges(content []*yaml.Node) []*yaml.Node {
	own := map[string]bool{}
	hasMerge := false
	for i := 0; i+1 < len(content); i += 2 {
		if content[i].Value == "<<" && content[i].Tag == "!!merge" {
			hasMerge = true
		} else {
			own[content[i].Value] = true
		}
	}
	if !hasMerge {
		return content
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(content); i += 2 {
		k, v := content[i], content[i+1]
		if k.Value != "<<" || k.Tag != "!!merge" {
			out = append(out, k, v)
			continue
		}
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, m := range srcs {
			if m.Kind != yaml.MappingNode {
				out = append(out, k, v) // left for the loader to report
				break
			}
			for j := 0; j+1 < len(m.Content); j += 2 {
				if !own[m.Content[j].Value] {
					own[m.Content[j].Value] = true
					out = append(out, m.Content[j], m.Content[j+1])
				}
			}
		}
	}
	return out
}
