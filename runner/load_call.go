package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxCallDepth is how many plans deep calls may go below the plan run
// (a calls b calls c is 2 deep): a guard against runaway recursion that a
// cycle check alone would not stop (a chain of generated plans).
const MaxCallDepth = 8

// loadConfig is what loading a plan and the plans it calls share.
type loadConfig struct {
	plansDir string
	stack    []callFrame            // the plans being loaded, the one run first
	cache    map[string]*loadedPlan // by absolute path: each plan is loaded once
}

// callFrame is a plan being loaded: its absolute path, and its path as
// messages show it.
type callFrame struct{ abs, name string }

type loadedPlan struct {
	plan *Plan
	err  error
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// withValue returns the value of field name in a with: mapping, or nil.
func withValue(with *yaml.Node, name string) *yaml.Node {
	if with == nil {
		return nil
	}
	for i := 0; i+1 < len(with.Content); i += 2 {
		if with.Content[i].Value == name {
			return with.Content[i+1]
		}
	}
	return nil
}

// checkCall loads the plan a calling step names and checks the params the
// step passes against it. The called plan's own problems are reported with
// its file name.
func (l *loader) checkCall(si *stepInfo) {
	st := si.step
	spec := st.Def.Calls
	if spec == nil {
		return
	}
	fileNode := withValue(st.With, spec.File)
	if fileNode == nil || fileNode.Kind != yaml.ScalarNode || fileNode.Tag == "!!null" {
		return // missing or of the wrong type: checkWith reported it
	}
	label := "with." + spec.File
	if hasExpr(fileNode.Value) {
		l.el.add(fileNode, st.ID, "%s: must be a path written out, not an expression: the called plan is loaded and checked before anything runs (pass what varies as params)", label)
		return
	}
	if l.cfg == nil {
		l.el.add(fileNode, st.ID, "%s: a plan built in code cannot call a plan", label)
		return
	}
	path, err := l.resolveCall(fileNode.Value)
	if err != nil {
		l.el.add(fileNode, st.ID, "%s: %v", label, err)
		return
	}
	abs := absPath(path)
	for i, f := range l.cfg.stack {
		if f.abs == abs {
			chain := make([]string, 0, len(l.cfg.stack)-i+1)
			for _, g := range l.cfg.stack[i:] {
				chain = append(chain, g.name)
			}
			chain = append(chain, f.name)
			l.el.add(fileNode, st.ID, "%s: plans call each other in a cycle: %s", label, strings.Join(chain, " -> "))
			return
		}
	}
	if len(l.cfg.stack) > MaxCallDepth {
		l.el.add(fileNode, st.ID, "%s: plans call plans more than %d deep (%s -> %s): flatten the chain", label, MaxCallDepth, l.cfg.stack[0].name, path)
		return
	}
	callee, err := l.loadCallee(path, abs)
	if err != nil {
		var pe PlanErrors
		if errors.As(err, &pe) {
			l.el.errs = append(l.el.errs, pe...)
			l.el.add(fileNode, st.ID, "%s: %s is invalid (%d problem%s, listed under its name)", label, path, len(pe), Plural(len(pe)))
			return
		}
		l.el.add(fileNode, st.ID, "%s: %v", label, err)
		return
	}
	st.Calls = callee
	l.plan.Warnings = append(l.plan.Warnings, callee.Warnings...)
	l.checkCallParams(si, callee)
}

// resolveCall finds the file a call names: a path relative to the calling
// plan's folder, or, for a bare name without extension, NAME.yaml (or .yml)
// next to the calling plan or in the plans folder.
func (l *loader) resolveCall(file string) (string, error) {
	isFile := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir()
	}
	dir := filepath.Dir(l.plan.File)
	cand := file
	if !filepath.IsAbs(file) {
		cand = filepath.Join(dir, file)
	}
	if isFile(cand) {
		return cand, nil
	}
	if strings.ContainsAny(file, `/\`) || filepath.Ext(file) != "" {
		return "", fmt.Errorf("no plan file %s (paths are relative to the calling plan's folder, %s)", cand, dir)
	}
	dirs := []string{dir}
	if l.cfg.plansDir != "" && absPath(l.cfg.plansDir) != absPath(dir) {
		dirs = append(dirs, l.cfg.plansDir)
	}
	for _, d := range dirs {
		for _, ext := range []string{".yaml", ".yml"} {
			if p := filepath.Join(d, file+ext); isFile(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no plan named %q in %s", file, strings.Join(dirs, " or "))
}

// loadCallee loads the plan at path once per Load.
func (l *loader) loadCallee(path, abs string) (*Plan, error) {
	if lp, ok := l.cfg.cache[abs]; ok {
		return lp.plan, lp.err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the called plan: %w", err)
	}
	cfg := &loadConfig{plansDir: l.cfg.plansDir, cache: l.cfg.cache,
		stack: append(append([]callFrame(nil), l.cfg.stack...), callFrame{abs: abs, name: path})}
	p, err := load(path, src, l.reg, cfg)
	l.cfg.cache[abs] = &loadedPlan{plan: p, err: err}
	return p, err
}

// checkCallParams checks the params a call passes: each must be a param of
// the called plan, of its type when the value is known at load time (a
// literal, or the caller's own param), and every required param without a
// default must be given.
func (l *loader) checkCallParams(si *stepInfo, callee *Plan) {
	st := si.step
	label := "with." + st.Def.Calls.Params
	pn := withValue(st.With, st.Def.Calls.Params)
	specs := map[string]*ParamSpec{}
	var names []string
	for _, ps := range callee.Params {
		specs[ps.Name] = ps
		names = append(names, ps.Name)
	}
	passed := map[string]bool{}
	if pn != nil && pn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(pn.Content); i += 2 {
			k, v := pn.Content[i], pn.Content[i+1]
			ps := specs[k.Value]
			if ps == nil {
				hint := suggestOrList(k.Value, names)
				if len(names) == 0 {
					hint = " (it has no params)"
				}
				l.el.add(k, st.ID, "%s: plan %q (%s) has no param %q%s", label, callee.Name, callee.File, k.Value, hint)
				continue
			}
			passed[k.Value] = true
			l.checkCallValue(si, callee, ps, v, label+"."+k.Value)
		}
	}
	at := pn
	if at == nil {
		at = st.With
	}
	if at == nil {
		at = si.key
	}
	for _, ps := range callee.Params {
		if ps.Required && ps.Default == nil && !passed[ps.Name] {
			l.el.add(at, st.ID, "%s: missing required param %q of plan %q (%s)", label, ps.Name, callee.Name, callee.File)
		}
	}
}

// checkCallValue checks one passed value against the called plan's param
// ps, when its type is known at load time.
func (l *loader) checkCallValue(si *stepInfo, callee *Plan, ps *ParamSpec, v *yaml.Node, label string) {
	id := si.step.ID
	if !nodeHasExpr(v) {
		if _, err := paramFromNode(ps.Type, v); err != nil {
			got := NodeText(v)
			if ps.Secret && v.Kind == yaml.ScalarNode {
				got = "a secret value"
			}
			l.el.add(v, id, "%s: plan %q takes %s here, got %s (%v)", label, callee.Name, paramTypeText(ps.Type), got, err)
		}
		return
	}
	if v.Kind != yaml.ScalarNode {
		return
	}
	t, err := parseTemplate(v.Value)
	if err != nil {
		return // reported by checkWith
	}
	e, single := t.single()
	if !single {
		return // a string, converted at run time
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(e.src), "params.")
	if !ok {
		return
	}
	for _, from := range l.plan.Params {
		if from.Name == name && !paramAccepts(ps.Type, from.Type) {
			l.el.add(v, id, "%s: params.%s is %s, but plan %q takes %s here", label, name, paramTypeText(from.Type), callee.Name, paramTypeText(ps.Type))
		}
	}
}

// paramAccepts reports whether a param of type to can take a value of a
// param of type from: the same type, an int as a number, a scalar as a
// string.
func paramAccepts(to, from ParamType) bool {
	switch {
	case to == from:
		return true
	case to == ParamNumber:
		return from == ParamInt
	case to == ParamString:
		return from != ParamList && from != ParamMap
	}
	return false
}
