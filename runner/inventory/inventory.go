// Package inventory reads inventory files: the targets (one database each,
// with its params and labels) a plan runs over when sluice runs a fleet.
//
//	version: 1
//	defaults:
//	  params: {dest: "s3://backups/prod"}
//	  labels: {env: prod}
//	targets:
//	  shop: {params: {db: "postgres://backup@shop-db/shop", name: shop}, labels: {tier: gold}}
//	  crm:  {params: {db: "${{ env.CRM_DSN }}", name: crm}}
//
// A target's params are its own over the defaults'; Check compares them
// with a plan's params. Values hold no secret in clear: a string may
// reference the environment as ${{ env.NAME }}, resolved when the target
// runs (Target.Resolve), and a password written in a URL or connection
// string is refused. The package only parses and checks; running the
// targets is the caller's.
package inventory

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
)

// Version is the inventory format version this package reads.
const Version = 1

// Inventory is a loaded inventory file.
type Inventory struct {
	File string
	// Defaults are the params every target gets unless it sets its own.
	Defaults map[string]*Value
	// Targets are in file order; a target's Index is its position here.
	Targets []*Target
}

// Target is one entry of targets:, with the defaults merged in.
type Target struct {
	Name        string
	Index       int // position in file order: what --target-index selects
	Description string
	// Labels are the defaults' labels, then the target's own.
	Labels map[string]string
	// Params are the defaults' params, then the target's own.
	Params map[string]*Value
	Pos    runner.Pos
}

// Value is a param value as written in the inventory.
type Value struct {
	Node   *yaml.Node
	Pos    runner.Pos // of the value
	KeyPos runner.Pos // of its name
	// Env lists the environment variables it references as ${{ env.NAME }},
	// sorted, without duplicates.
	Env []string
	// InDefaults is true when the value comes from defaults:.
	InDefaults bool
}

var (
	topFields      = []string{"version", "description", "defaults", "targets"}
	defaultsFields = []string{"params", "labels"}
	targetFields   = []string{"params", "labels", "description"}

	// Target names end up in run ids, file names, Kubernetes and Argo
	// object names and metric labels: an RFC 1123 label fits them all.
	targetNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// Label keys and values follow Kubernetes' rule for names, so that
	// selectors read the same here and there.
	labelRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
)

// LoadFile reads and loads the inventory at path. See Load.
func LoadFile(path string) (*Inventory, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading inventory: %w", err)
	}
	return Load(path, src)
}

// Load parses src (the contents of file). Every problem is reported at once
// as runner.PlanErrors in compiler form, FILE:LINE:COL: target "x": ....
// With errors, the inventory read so far is returned too when the file
// parsed as YAML, so that a caller can add Check's problems to them.
func Load(file string, src []byte) (*Inventory, error) {
	root, err := runner.ParseYAML(file, src)
	if err != nil {
		return nil, err
	}
	l := &loader{file: file, inv: &Inventory{File: file, Defaults: map[string]*Value{}}}
	if root == nil {
		l.add(nil, "inventory is empty (start with version: 1 and a targets: mapping)")
		return nil, l.result()
	}
	if root.Kind != yaml.MappingNode {
		l.add(root, "inventory must be a mapping with version: and targets:")
		return nil, l.result()
	}
	l.loadTop(root)
	return l.inv, l.result()
}

// loader collects the problems of one Load.
type loader struct {
	file          string
	inv           *Inventory
	defaultLabels map[string]string
	errs          runner.PlanErrors
}

func (l *loader) pos(n *yaml.Node) runner.Pos {
	if n == nil {
		return runner.Pos{File: l.file, Line: 1, Col: 1}
	}
	return runner.Pos{File: l.file, Line: n.Line, Col: n.Column}
}

func (l *loader) add(n *yaml.Node, format string, args ...any) {
	l.errs = append(l.errs, &runner.PlanError{Pos: l.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) result() error {
	if len(l.errs) == 0 {
		return nil
	}
	sortErrors(l.errs)
	return l.errs
}

func sortErrors(es runner.PlanErrors) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
}

func (l *loader) loadTop(root *yaml.Node) {
	var version, targets *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "version":
			version = v
		case "description":
			l.scalar(v, "description")
		case "defaults":
			l.loadDefaults(v)
		case "targets":
			targets = v
		default:
			if strings.HasPrefix(k.Value, "x-") {
				continue // extension fields, e.g. anchors for reuse
			}
			l.add(k, "field %q not recognised%s", k.Value, runner.Suggest(k.Value, topFields))
		}
	}
	switch {
	case version == nil:
		l.add(root, "version is missing (add version: %d)", Version)
	case version.Kind != yaml.ScalarNode || version.Value != fmt.Sprint(Version):
		l.add(version, "version must be %d, not %s", Version, runner.NodeText(version))
	}
	// Targets after defaults, whatever their order in the file: a target
	// inherits the defaults' labels.
	if targets == nil {
		l.add(root, "targets is missing (add a targets: mapping of names to {params: ...})")
		return
	}
	l.loadTargets(targets)
}

func (l *loader) loadDefaults(n *yaml.Node) {
	if !l.mapping(n, "defaults") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "params":
			l.loadParams(v, "defaults", l.inv.Defaults, true)
		case "labels":
			l.defaultLabels = l.loadLabels(v, "defaults")
		default:
			l.add(k, "defaults: field %q not recognised%s", k.Value, runner.Suggest(k.Value, defaultsFields))
		}
	}
}

func (l *loader) loadTargets(n *yaml.Node) {
	if !l.mapping(n, "targets") {
		return
	}
	if len(n.Content) == 0 {
		l.add(n, "targets is empty: name at least one target")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		t := &Target{Name: k.Value, Index: len(l.inv.Targets), Pos: l.pos(k), Labels: map[string]string{}, Params: map[string]*Value{}}
		label := fmt.Sprintf("target %q", k.Value)
		if !targetNameRE.MatchString(k.Value) {
			l.add(k, "%s: a target name must be lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit (it names runs, files and Kubernetes objects)", label)
		}
		for name, val := range l.defaultLabels {
			t.Labels[name] = val
		}
		for name, val := range l.inv.Defaults {
			t.Params[name] = val
		}
		l.inv.Targets = append(l.inv.Targets, t)
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue // `name:` alone: the defaults are enough
		}
		if !l.mapping(v, label) {
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			switch fk.Value {
			case "params":
				l.loadParams(fv, label, t.Params, false)
			case "labels":
				for name, val := range l.loadLabels(fv, label) {
					t.Labels[name] = val
				}
			case "description":
				t.Description = l.scalar(fv, label+": description")
			default:
				l.add(fk, "%s: field %q not recognised%s", label, fk.Value, runner.Suggest(fk.Value, targetFields))
			}
		}
	}
}

// loadParams reads a params: mapping of owner (defaults or a target) into
// into; the loader's checks on values (environment references, passwords
// in clear) apply here.
func (l *loader) loadParams(n *yaml.Node, owner string, into map[string]*Value, defaults bool) {
	if !l.mapping(n, owner+": params") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		what := fmt.Sprintf("%s: param %q", owner, k.Value)
		// A refused value is kept, so that Check does not call it missing.
		env, _ := l.checkValue(v, what)
		into[k.Value] = &Value{Node: v, Pos: l.pos(v), KeyPos: l.pos(k), Env: env, InDefaults: defaults}
	}
}

func (l *loader) loadLabels(n *yaml.Node, owner string) map[string]string {
	out := map[string]string{}
	if !l.mapping(n, owner+": labels") {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !labelRE.MatchString(k.Value) {
			l.add(k, "%s: label %q: a label name is letters, digits, '-', '_' and '.', at most 63 characters, starting and ending with a letter or digit", owner, k.Value)
			continue
		}
		val := l.scalar(v, fmt.Sprintf("%s: label %q", owner, k.Value))
		if val != "" && !labelRE.MatchString(val) {
			l.add(v, "%s: label %q: value %q is not a label value (letters, digits, '-', '_' and '.', at most 63 characters)", owner, k.Value, val)
			continue
		}
		out[k.Value] = val
	}
	return out
}

func (l *loader) mapping(n *yaml.Node, what string) bool {
	if n.Kind == yaml.MappingNode {
		return true
	}
	l.add(n, "%s must be a mapping, not %s", what, runner.NodeText(n))
	return false
}

func (l *loader) scalar(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.add(n, "%s must be a string, not %s", what, runner.NodeText(n))
		return ""
	}
	return n.Value
}

// Names returns the targets' names in file order.
func (inv *Inventory) Names() []string {
	out := make([]string, len(inv.Targets))
	for i, t := range inv.Targets {
		out[i] = t.Name
	}
	return out
}

// Target returns the target called name, or nil.
func (inv *Inventory) Target(name string) *Target {
	for _, t := range inv.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}
