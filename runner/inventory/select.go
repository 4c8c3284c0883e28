package inventory

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// Selector is a set of label requirements, key=value, all of which a
// target must meet; `sluice run --selector tier=gold,region=eu`.
type Selector map[string]string

// ParseSelector parses "k=v,k2=v2" ("" selects everything).
func ParseSelector(s string) (Selector, error) {
	sel := Selector{}
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("selector %q: want label=value[,label=value...]", s)
		}
		sel[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return sel, nil
}

// Matches reports whether t has every label of the selector.
func (s Selector) Matches(t *Target) bool {
	for k, v := range s {
		if got, ok := t.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Select returns the targets named in names (all of them when names is
// empty) that match sel, in file order. An unknown name is an error with
// a did-you-mean; so is a selection that leaves no target.
func (inv *Inventory) Select(names []string, sel Selector) ([]*Target, error) {
	want := map[string]bool{}
	for _, n := range names {
		if inv.Target(n) == nil {
			return nil, fmt.Errorf("inventory %s has no target %q%s", inv.File, n, runner.Suggest(n, inv.Names()))
		}
		want[n] = true
	}
	var out []*Target
	for _, t := range inv.Targets {
		if (len(want) == 0 || want[t.Name]) && sel.Matches(t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no target of inventory %s matches the selection", inv.File)
	}
	return out, nil
}

// ByIndex returns the target at position i in file order: what a
// Kubernetes Indexed Job's pod runs (JOB_COMPLETION_INDEX).
func (inv *Inventory) ByIndex(i int) (*Target, error) {
	if i < 0 || i >= len(inv.Targets) {
		return nil, fmt.Errorf("target index %d is out of range: inventory %s has %d targets (0 to %d)", i, inv.File, len(inv.Targets), len(inv.Targets)-1)
	}
	return inv.Targets[i], nil
}
