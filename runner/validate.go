package runner

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// validate runs the checks that need every step: types, with:, inputs,
// references, dependencies, stream groups, cycles, the fail-closed rule and
// the types of expressions.
func (l *loader) validate() {
	for _, si := range l.order {
		st := si.step
		if st.Type == "" {
			continue
		}
		def, ok := l.reg.Lookup(st.Type)
		if !ok {
			l.el.add(si.fields["type"], st.ID, "unknown step type %q%s", st.Type, suggestOrList(st.Type, l.reg.Types()))
			continue
		}
		st.Def = def
		if st.params != nil {
			l.checkParams(si)
		} else {
			l.checkWith(si)
			l.checkCall(si)
		}
	}
	for _, si := range l.order {
		l.checkInput(si)
		l.checkNeeds(si)
		l.checkForEach(si)
		l.checkExprRefs(si)
	}
	l.checkOutputs()
	l.checkConsumed()
	groups := l.streamGroups()
	for _, si := range l.order {
		l.computeDeps(si, groups)
	}
	l.checkCycles()
	l.checkPlaintext()
	l.checkExprTypes()
}

// stepIDs returns the step ids in file order.
func (l *loader) stepIDs() []string {
	ids := make([]string, len(l.order))
	for i, si := range l.order {
		ids[i] = si.step.ID
	}
	return ids
}

func (l *loader) checkInput(si *stepInfo) {
	st := si.step
	n := si.fields["input"]
	if st.Def == nil {
		return
	}
	kind := st.Def.Kind
	if st.Input == "" {
		if n == nil && (kind == KindTransform || kind == KindSink) {
			l.el.add(si.key, st.ID, "missing field \"input\": a %s step reads a stream (name the step whose stream it reads)", kind)
		}
		return
	}
	if kind == KindSource || kind == KindAction {
		l.el.add(n, st.ID, "field \"input\" not allowed: %s %s step reads no stream", article(kind), kind)
		return
	}
	if st.Input == st.ID {
		l.el.add(n, st.ID, "input: a step cannot read its own stream")
		return
	}
	src, ok := l.steps[st.Input]
	if !ok {
		l.el.add(n, st.ID, "input: unknown step %q%s", st.Input, Suggest(st.Input, l.stepIDs()))
		return
	}
	if src.step.Def != nil && (src.step.Def.Kind == KindSink || src.step.Def.Kind == KindAction) {
		l.el.add(n, st.ID, "input: step %q is %s %s, which writes no stream", st.Input, article(src.step.Def.Kind), src.step.Def.Kind)
	}
}

// checkConsumed reports every source or transform whose stream no step
// reads: its bytes would go nowhere (an encrypt whose output is never
// uploaded), which is a plan mistake rather than a way to discard data.
func (l *loader) checkConsumed() {
	read := map[string]bool{}
	for _, si := range l.order {
		if si.step.Input != "" {
			read[si.step.Input] = true
		}
	}
	for _, si := range l.order {
		if si.step.Def != nil && !l.inputSound(si) {
			// A misplaced input: is reported already, and may be the
			// very edge a stream here lacks.
			return
		}
	}
	for _, si := range l.order {
		def := si.step.Def
		if def == nil || read[si.step.ID] || (def.Kind != KindSource && def.Kind != KindTransform) {
			continue
		}
		l.el.add(si.key, si.step.ID, "its stream is not read by any step: add a step with input: %s (a sink such as upload), or remove the %s", si.step.ID, def.Kind)
	}
}

// inputSound reports whether si's own input: is as its kind wants (checked
// by checkInput).
func (l *loader) inputSound(si *stepInfo) bool {
	st := si.step
	switch st.Def.Kind {
	case KindSource, KindAction:
		return si.fields["input"] == nil
	}
	src, ok := l.steps[st.Input]
	return ok && st.Input != st.ID && src.step.Def != nil && (src.step.Def.Kind == KindSource || src.step.Def.Kind == KindTransform)
}

func article(k Kind) string {
	if k == KindAction {
		return "an"
	}
	return "a"
}

func (l *loader) checkNeeds(si *stepInfo) {
	n := si.fields["needs"]
	items := []*yaml.Node{n}
	if n != nil && n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		if it == nil || it.Kind != yaml.ScalarNode {
			continue
		}
		switch _, ok := l.steps[it.Value]; {
		case it.Value == si.step.ID:
			l.el.add(it, si.step.ID, "needs: a step cannot need itself")
		case !ok:
			l.el.add(it, si.step.ID, "needs: unknown step %q%s", it.Value, Suggest(it.Value, l.stepIDs()))
		}
	}
}

// checkExprRefs checks the params.X and steps.X.Y names of every expression
// of si.
func (l *loader) checkExprRefs(si *stepInfo) {
	l.checkRefs(si, si.step.ID, si.exprs)
}

// checkRefs checks the params.X and steps.X.Y names of uses, the
// expressions of owner (nil for the plan's outputs), reporting under step.
func (l *loader) checkRefs(owner *stepInfo, step string, uses []exprUse) {
	var params []string
	for _, p := range l.plan.Params {
		params = append(params, p.Name)
	}
	var ownFan *stepInfo
	if owner != nil {
		ownFan = l.fanOf(owner)
	}
	for _, u := range uses {
		for _, p := range u.e.paths {
			if p[0] == "params" && len(p) >= 2 && !contains(params, p[1]) {
				l.el.add(u.node, step, "%s: unknown param %q%s", u.label, p[1], Suggest(p[1], params))
			}
		}
		for _, r := range u.e.StepRefs() {
			target, ok := l.steps[r.Step]
			switch {
			case !ok:
				l.el.add(u.node, step, "%s: unknown step %q%s", u.label, r.Step, Suggest(r.Step, l.stepIDs()))
				continue
			case owner != nil && r.Step == step && u.kind != "assert":
				l.el.add(u.node, step, "%s: a step cannot use its own outputs before it runs (move this into assert:)", u.label)
				continue
			}
			if fan := l.fanOf(target); fan != nil && fan != ownFan {
				l.checkItemRef(u, step, target, fan, r)
				continue
			}
			if r.Output == "each" && target.step.Def != nil && !hasOutput(target.step.Def, "each") {
				l.el.add(u.node, step, "%s: step %q has no for_each, so no output \"each\"", u.label, r.Step)
				continue
			}
			l.checkOutputPath(u, step, target, r.Path)
		}
	}
}

// checkOutputPath checks that path (an output name and what follows it)
// names an output of target: one its type declares, status, or one of
// extra. Through a step that calls a plan, the name under the calls output
// must be one of that plan's declared outputs.
func (l *loader) checkOutputPath(u exprUse, step string, target *stepInfo, path []string, extra ...string) {
	def := target.step.Def
	if len(path) == 0 || path[0] == "*" || def == nil {
		return
	}
	out := path[0]
	outs := []string{}
	for _, o := range def.Outputs {
		outs = append(outs, o.Name)
	}
	outs = append(append(outs, "status"), extra...)
	if !contains(outs, out) {
		l.el.add(u.node, step, "%s: step %q (type %s) has no output %q%s", u.label, target.step.ID, def.Type, out, suggestOrList(out, outs))
		return
	}
	callee := target.step.Calls
	if callee == nil || def.Calls == nil || out != def.Calls.Outputs || len(path) < 2 {
		return
	}
	var names []string
	for _, o := range callee.Outputs {
		names = append(names, o.Name)
	}
	if !contains(names, path[1]) {
		hint := suggestOrList(path[1], names)
		if len(names) == 0 {
			hint = " (it declares none: add an outputs: section to " + callee.File + ")"
		}
		l.el.add(u.node, step, "%s: plan %q, which step %q runs, has no output %q%s", u.label, callee.Name, target.step.ID, path[1], hint)
	}
}

func hasOutput(d *Definition, name string) bool {
	for _, o := range d.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// suggestOrList returns Suggest's did-you-mean for name, or else the list
// of valid names, so that a message always says what would be accepted.
func suggestOrList(name string, candidates []string) string {
	if hint := Suggest(name, candidates); hint != "" || len(candidates) == 0 {
		return hint
	}
	return " (one of: " + strings.Join(candidates, ", ") + ")"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// streamGroups maps each step joined to others by input: to a group id (the
// id of the group's first step in file order); steps outside any stream are
// absent.
func (l *loader) streamGroups() map[string]string {
	parent := map[string]string{}
	find := func(x string) string {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, si := range l.order {
		parent[si.step.ID] = si.step.ID
	}
	for _, si := range l.order {
		if _, ok := l.steps[si.step.Input]; ok && si.step.Input != si.step.ID {
			a, b := find(si.step.ID), find(si.step.Input)
			if l.index(a) < l.index(b) {
				parent[b] = a
			} else {
				parent[a] = b
			}
		}
	}
	groups := map[string]string{}
	size := map[string]int{}
	for _, si := range l.order {
		size[find(si.step.ID)]++
	}
	for _, si := range l.order {
		if r := find(si.step.ID); size[r] > 1 {
			groups[si.step.ID] = r
		}
	}
	return groups
}

func (l *loader) index(id string) int {
	for i, si := range l.order {
		if si.step.ID == id {
			return i
		}
	}
	return -1
}

// computeDeps fills Step.Deps and rejects with:/when: references to a member
// of the step's own stream group, whose outputs are unknown until the stream
// ends. Assertions may reference the group; they are checked after it.
func (l *loader) computeDeps(si *stepInfo, groups map[string]string) {
	st := si.step
	set := map[string]bool{}
	add := func(id string) {
		if _, ok := l.steps[id]; ok && id != st.ID {
			set[id] = true
		}
	}
	add(st.Input)
	for _, n := range st.Needs {
		add(n)
	}
	g, inGroup := groups[st.ID]
	for _, u := range si.exprs {
		for _, r := range u.e.StepRefs() {
			same := inGroup && r.Step != st.ID && groups[r.Step] == g
			if same && u.kind != "assert" {
				l.el.add(u.node, st.ID, "%s: step %q is in the same stream, so its outputs are not known when this step starts (use it in assert: or in a later step)", u.label, r.Step)
				continue
			}
			if !same {
				add(r.Step)
			}
		}
	}
	st.Deps = sortedKeys(set)
}
