package runner

import (
	"fmt"
	"sort"
)

// checkCycles reports each dependency cycle once, starting at its first
// step in file order.
func (l *loader) checkCycles() {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	seen := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		stack = append(stack, id)
		for _, d := range l.steps[id].step.Deps {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				l.reportCycle(stack, d, seen)
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	for _, si := range l.order {
		if color[si.step.ID] == white {
			visit(si.step.ID)
		}
	}
}

func (l *loader) reportCycle(stack []string, start string, seen map[string]bool) {
	i := len(stack) - 1
	for stack[i] != start {
		i--
	}
	// stack[i:] depends on the next one; print in the order "a needs b".
	cyc := append([]string(nil), stack[i:]...)
	first := 0
	for j := range cyc {
		if l.index(cyc[j]) < l.index(cyc[first]) {
			first = j
		}
	}
	cyc = append(cyc[first:], cyc[:first]...)
	keyParts := append([]string(nil), cyc...)
	sort.Strings(keyParts)
	key := fmt.Sprint(keyParts)
	if seen[key] {
		return
	}
	seen[key] = true
	msg := ""
	for _, id := range cyc {
		msg += id + " -> "
	}
	si := l.steps[cyc[0]]
	l.el.add(si.key, si.step.ID, "dependency cycle: %s%s", msg, cyc[0])
}

// checkPlaintext applies the fail-closed rule: a stream reaching a
// persisting step is plaintext unless a step that protects it (encrypt)
// comes after the last step that yields plaintext (dump, decrypt); a source
// that does not say what it carries (download) counts as plaintext. Such a
// stream must not reach the step unless the step allows it.
func (l *loader) checkPlaintext() {
	for _, si := range l.order {
		st := si.step
		if st.Def == nil || !st.Def.Persists || st.Input == "" {
			continue
		}
		origin := ""
		visited := map[string]bool{}
		for cur := st.Input; cur != "" && !visited[cur]; {
			visited[cur] = true
			up, ok := l.steps[cur]
			if !ok || up.step.Def == nil {
				break // reported elsewhere
			}
			if up.step.Def.Protects {
				break
			}
			if up.step.Def.Plaintext || up.step.Input == "" {
				origin = cur
				break
			}
			cur = up.step.Input
		}
		if origin == "" {
			continue
		}
		if a, ok := si.static.(PlaintextAllower); ok && a.AllowsPlaintext() {
			continue
		}
		l.el.add(si.key, st.ID, "would persist plaintext from step %q: add an encrypt step before it, or set allow_plaintext: true on this sink", origin)
	}
}
