package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// topFields are the fields a plan may have at its top level.
var topFields = []string{"version", "name", "description", "params", "keys", "settings", "outputs", "steps"}

// LoadOption changes how plans are loaded.
type LoadOption func(*loadConfig)

// WithPlansDir names the folder where a called plan given by name (a step
// with: {file: backup}) is looked up when no file of that name is next to
// the calling plan: DIR/NAME.yaml or DIR/NAME.yml.
func WithPlansDir(dir string) LoadOption {
	return func(c *loadConfig) { c.plansDir = dir }
}

// LoadFile reads and loads the plan at path. See Load.
func LoadFile(path string, reg *Registry, opts ...LoadOption) (*Plan, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	return Load(path, src, reg, opts...)
}

// Load parses src (the contents of file) and validates it against the step
// types of reg. Every problem found is reported at once as a *PlanErrors
// value (in error form, PlanErrors) sorted by file and position; file names
// the plan in those messages. The plans its steps call are loaded too,
// their paths relative to file's folder, and their problems reported with
// their own file names.
func Load(file string, src []byte, reg *Registry, opts ...LoadOption) (*Plan, error) {
	cfg := &loadConfig{cache: map[string]*loadedPlan{}}
	for _, o := range opts {
		o(cfg)
	}
	cfg.stack = []callFrame{{abs: absPath(file), name: file}}
	return load(file, src, reg, cfg)
}

// load is Load with the state of the calls being loaded.
func load(file string, src []byte, reg *Registry, cfg *loadConfig) (*Plan, error) {
	if reg == nil {
		reg = NewRegistry()
	}
	l := &loader{el: &errList{file: file}, reg: reg, steps: map[string]*stepInfo{}, cfg: cfg}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		l.el.errs = append(l.el.errs, yamlSyntaxError(file, err))
		return nil, l.el.result()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		l.el.add(nil, "", "plan is empty (start with version: 1 and a steps: mapping)")
		return nil, l.el.result()
	}
	root := doc.Content[0]
	budget := maxExpandedNodes
	if !expandAliases(root, &budget, 0) {
		l.el.add(root, "", "plan is too large once YAML aliases are expanded (more than %d nodes)", maxExpandedNodes)
		return nil, l.el.result()
	}
	checkDuplicates(l.el, root)
	l.plan = &Plan{
		File:     file,
		Name:     strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)),
		Keys:     map[string]KeyConfig{},
		Settings: Settings{Concurrency: 4},
	}
	if root.Kind != yaml.MappingNode {
		l.el.add(root, "", "plan must be a mapping with version: and steps:")
		return nil, l.el.result()
	}
	l.loadTop(root)
	l.validate()
	if err := l.el.result(); err != nil {
		return nil, err
	}
	sort.SliceStable(l.plan.Warnings, func(i, j int) bool {
		a, b := l.plan.Warnings[i].Pos, l.plan.Warnings[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return l.plan, nil
}

// loader holds the state of one Load.
type loader struct {
	el      *errList
	reg     *Registry
	plan    *Plan
	steps   map[string]*stepInfo
	order   []*stepInfo
	cfg     *loadConfig // nil for Build
	outputs []*outputInfo
}

func (l *loader) loadTop(root *yaml.Node) {
	var version *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "version":
			version = v
		case "name":
			l.str(v, "", "name", &l.plan.Name)
		case "description":
			l.str(v, "", "description", &l.plan.Description)
		case "params":
			l.loadParams(v)
		case "keys":
			l.loadKeys(v)
		case "settings":
			l.loadSettings(v)
		case "outputs":
			l.loadOutputs(v)
		case "steps":
			l.loadSteps(v)
		default:
			if strings.HasPrefix(k.Value, "x-") {
				continue // extension fields, e.g. anchors for reuse
			}
			l.el.add(k, "", "field %q not recognised%s", k.Value, Suggest(k.Value, topFields))
		}
	}
	switch {
	case version == nil:
		l.el.add(root, "", "version is missing (add version: 1)")
	case version.Kind != yaml.ScalarNode || version.Value != "1":
		l.el.add(version, "", "version must be 1, not %s", NodeText(version))
	default:
		l.plan.Version = 1
	}
	if len(l.order) == 0 {
		l.el.add(root, "", "plan has no steps (add a steps: mapping)")
	}
}

func (l *loader) loadKeys(n *yaml.Node) {
	if !l.mapping(n, "", "keys") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kc := KeyConfig{Name: k.Value, Store: "dir", Options: map[string]string{}}
		if l.mapping(v, "", "keys."+k.Value) {
			for j := 0; j+1 < len(v.Content); j += 2 {
				fk, fv := v.Content[j], v.Content[j+1]
				var s string
				if !l.str(fv, "", "keys."+k.Value+"."+fk.Value, &s) {
					continue
				}
				l.checkKeyTemplate(fv, k.Value+"."+fk.Value, s)
				switch fk.Value {
				case "store":
					kc.Store = s
				case "path":
					kc.Path = s
				default:
					kc.Options[fk.Value] = s
				}
			}
		}
		l.plan.Keys[k.Value] = kc
	}
}

// checkKeyTemplate checks a ${{ }} in a keys: field: it is resolved once
// before any step runs, so it may use params, env, run and plan, not steps.
func (l *loader) checkKeyTemplate(n *yaml.Node, field, s string) {
	t, err := parseTemplate(s)
	if err != nil {
		l.el.add(n, "", "keys.%s: %v", field, err)
		return
	}
	if t == nil {
		return
	}
	for _, e := range t.exprs() {
		if len(e.StepRefs()) > 0 {
			l.el.add(n, "", "keys.%s: cannot use steps (keys are resolved before any step runs); use params or env", field)
		}
		l.checkEachUses(exprUse{e: e, node: n, label: "keys." + field, kind: "key"}, "", false)
	}
}

func (l *loader) loadSettings(n *yaml.Node) {
	if !l.mapping(n, "", "settings") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "concurrency":
			var c int
			if l.decode(v, "", "settings.concurrency", &c) {
				if c < 1 {
					l.el.add(v, "", "settings.concurrency must be at least 1, not %d", c)
				} else {
					l.plan.Settings.Concurrency = c
				}
			}
		case "timeout":
			l.duration(v, "", "settings.timeout", &l.plan.Settings.Timeout)
		case "retry":
			l.loadRetry("", "settings.retry", v, &l.plan.Settings.Retry)
		default:
			l.el.add(k, "", "settings: field %q not recognised%s", k.Value, Suggest(k.Value, []string{"concurrency", "timeout", "retry"}))
		}
	}
}

// mapping reports whether n is a mapping, recording an error if not.
func (l *loader) mapping(n *yaml.Node, step, field string) bool {
	if n.Kind == yaml.MappingNode {
		return true
	}
	l.el.add(n, step, "%s must be a mapping, not %s", field, NodeText(n))
	return false
}

// str decodes a string scalar.
func (l *loader) str(n *yaml.Node, step, field string, out *string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.el.add(n, step, "%s must be a string, not %s", field, NodeText(n))
		return false
	}
	*out = n.Value
	return true
}

// decode decodes a scalar into out (an int or bool pointer).
func (l *loader) decode(n *yaml.Node, step, field string, out any) bool {
	if err := n.Decode(out); err != nil {
		l.el.add(n, step, "%s: want %s, got %s", field, typeText(fmt.Sprintf("%T", out)), NodeText(n))
		return false
	}
	return true
}

// duration decodes a duration such as "90s", "2h" or "1d" (see Duration).
func (l *loader) duration(n *yaml.Node, step, field string, out *time.Duration) bool {
	d, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || n.Value == "" {
		l.el.add(n, step, "%s: want a duration such as 90s or 2h, got %s", field, NodeText(n))
		return false
	}
	*out = d.Std()
	return true
}

func typeText(goType string) string {
	switch goType {
	case "*int":
		return "an integer"
	case "*bool":
		return "true or false"
	}
	return goType
}

// NodeText describes a node for messages: a quoted scalar, null, or its
// kind (a mapping, a list, an alias).
func NodeText(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return strconv.Quote(n.Value)
}
