package runner

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// stepFields are the fields every step may have.
var stepFields = []string{"type", "with", "input", "needs", "when", "assert", "retry", "timeout", "continue_on_error", "for_each", "max_parallel", "fail_fast"}

// stepIDPattern is what a step id may be. An id names the step's folder in
// the run folder, so it holds no path separator and no dot.
const stepIDPattern = `^[A-Za-z_][A-Za-z0-9_-]*$`

var stepIDRE = regexp.MustCompile(stepIDPattern)

// badStepID is the problem with a step id that does not match
// stepIDPattern.
const badStepID = "step id must start with a letter or _ and hold only letters, digits, _ and -: rename the step"

// stepInfo is a step being loaded, with the nodes needed for messages.
type stepInfo struct {
	step   *Step
	key    *yaml.Node            // the step id
	fields map[string]*yaml.Node // field name -> value node
	exprs  []exprUse
	static any // parameters decoded from literal with: values and defaults
}

// exprUse is one compiled expression of a step and where it is written.
type exprUse struct {
	e     *Expr
	node  *yaml.Node
	label string // when, assert[0], with.to
	kind  string // "when", "with", "assert", "for_each" or "output"
}

func (l *loader) loadSteps(n *yaml.Node) {
	if !l.mapping(n, "", "steps") {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := l.steps[k.Value]; dup {
			continue // reported by checkDuplicates
		}
		if k.Value == "" {
			l.el.add(k, "", "step id must not be empty")
			continue
		}
		if !stepIDRE.MatchString(k.Value) {
			l.el.add(k, k.Value, badStepID)
		}
		si := &stepInfo{
			step:   &Step{ID: k.Value, Pos: l.el.pos(k)},
			key:    k,
			fields: map[string]*yaml.Node{},
		}
		l.steps[k.Value] = si
		l.order = append(l.order, si)
		l.plan.Steps = append(l.plan.Steps, si.step)
		if l.mapping(v, k.Value, "step") {
			l.loadStep(si, v)
		}
	}
}

func (l *loader) loadStep(si *stepInfo, n *yaml.Node) {
	st, id := si.step, si.step.ID
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		si.fields[k.Value] = v
		switch k.Value {
		case "type":
			l.str(v, id, "type", &st.Type)
		case "with":
			if l.mapping(v, id, "with") {
				st.With = v
			}
		case "input":
			l.str(v, id, "input", &st.Input)
		case "needs":
			l.loadNeeds(si, v)
		case "when":
			var src string
			if l.str(v, id, "when", &src) {
				st.When = l.compileBare(si, v, "when", "when", src)
			}
		case "assert":
			l.loadAsserts(si, v)
		case "retry":
			l.loadRetry(si.step.ID, "retry", v, &si.step.Retry)
		case "timeout":
			l.duration(v, id, "timeout", &st.Timeout)
		case "continue_on_error":
			l.decode(v, id, "continue_on_error", &st.ContinueOnError)
		case "for_each":
			l.loadForEach(si, v)
		case "max_parallel":
			if l.decode(v, id, "max_parallel", &st.MaxParallel) && st.MaxParallel < 1 {
				l.el.add(v, id, "max_parallel must be at least 1, not %d", st.MaxParallel)
			}
		case "fail_fast":
			l.decode(v, id, "fail_fast", &st.FailFast)
		default:
			l.el.add(k, id, "field %q not recognised%s", k.Value, Suggest(k.Value, stepFields))
		}
	}
	if _, ok := si.fields["type"]; !ok {
		l.el.add(si.key, id, "missing field \"type\" (one of: %s)", strings.Join(l.reg.Types(), ", "))
	}
}

func (l *loader) loadNeeds(si *stepInfo, n *yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		if it.Kind != yaml.ScalarNode {
			l.el.add(it, si.step.ID, "needs must be a step id or a list of step ids, not %s", NodeText(it))
			continue
		}
		var s string
		if l.str(it, si.step.ID, "needs", &s) {
			si.step.Needs = append(si.step.Needs, s)
		}
	}
}

func (l *loader) loadAsserts(si *stepInfo, n *yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	id := si.step.ID
	for i, it := range items {
		label := fmt.Sprintf("assert[%d]", i)
		a := Assertion{Pos: l.el.pos(it)}
		thatNode := it
		switch it.Kind {
		case yaml.ScalarNode:
		case yaml.MappingNode:
			if thatNode = l.exprEntry(it, id, label, "that", "the expression to check", "message", &a.Message); thatNode == nil {
				continue
			}
		default:
			l.el.add(it, id, "%s must be an expression or {that: EXPR, message: TEXT}, not %s", label, NodeText(it))
			continue
		}
		var src string
		if !l.str(thatNode, id, label, &src) {
			continue
		}
		if a.That = l.compileBare(si, thatNode, label, "assert", src); a.That != nil {
			si.step.Asserts = append(si.step.Asserts, a)
		}
	}
}

// loadRetry reads a retry: mapping ({attempts, backoff}) named field, of
// step id (empty: the plan's settings) into r.
func (l *loader) loadRetry(id, field string, n *yaml.Node, r *Retry) {
	if !l.mapping(n, id, field) {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "attempts":
			if l.decode(v, id, field+".attempts", &r.Attempts) && r.Attempts < 0 {
				l.el.add(v, id, "%s.attempts must not be negative", field)
			}
		case "backoff":
			l.duration(v, id, field+".backoff", &r.Backoff)
		default:
			l.el.add(k, id, "%s: field %q not recognised%s", field, k.Value, Suggest(k.Value, []string{"attempts", "backoff"}))
		}
	}
}

// compileBare compiles a when: or assert: expression, accepting a value
// written as exactly one ${{ }} too.
func (l *loader) compileBare(si *stepInfo, n *yaml.Node, label, kind, src string) *Expr {
	e := l.compileBareExpr(n, si.step.ID, label, src)
	if e != nil {
		si.exprs = append(si.exprs, exprUse{e: e, node: n, label: label, kind: kind})
	}
	return e
}

// compileBareExpr compiles src, bare or as a single ${{ }}, reporting
// problems at n.
func (l *loader) compileBareExpr(n *yaml.Node, step, label, src string) *Expr {
	if hasExpr(src) {
		t, err := parseTemplate(src)
		if err != nil {
			l.el.add(n, step, "%s: %v", label, err)
			return nil
		}
		single, ok := t.single()
		if !ok {
			l.el.add(n, step, "%s: must be one expression, bare or as a single ${{ }}", label)
			return nil
		}
		return single
	}
	e, err := CompileExpr(src)
	if err != nil {
		l.el.add(n, step, "%s: invalid expression %q: %v", label, src, err)
		return nil
	}
	return e
}
