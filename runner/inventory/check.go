package inventory

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sluice-dev/sluice/runner"
)

// Check compares the inventory with plan p's params: every param it sets
// exists (with a did-you-mean), every literal value has the param's type,
// and every target has each required param without a default, unless
// given(name) says the caller supplies it another way (--param,
// SLUICE_PARAM_*). Values that read the environment are typed when the
// target runs. All problems are reported at once, in compiler form.
func (inv *Inventory) Check(p *runner.Plan, given func(name string) bool) error {
	specs := map[string]*runner.ParamSpec{}
	names := make([]string, 0, len(p.Params))
	for _, ps := range p.Params {
		specs[ps.Name] = ps
		names = append(names, ps.Name)
	}
	var errs runner.PlanErrors
	add := func(pos runner.Pos, format string, args ...any) {
		errs = append(errs, &runner.PlanError{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	}
	checkValues := func(owner string, vals map[string]*Value, inherited bool) {
		for _, name := range slices.Sorted(maps.Keys(vals)) {
			v := vals[name]
			if v.InDefaults != inherited {
				continue // reported once, where it is written
			}
			ps := specs[name]
			if ps == nil {
				add(v.KeyPos, "%s: plan %q has no param %q%s", owner, p.Name, name, runner.Suggest(name, names))
				continue
			}
			if len(v.Env) > 0 {
				continue
			}
			if _, err := runner.ParamValue(ps, v.Node); err != nil {
				add(v.Pos, "%s: param %q: %v", owner, name, err)
			}
		}
	}
	checkValues("defaults", inv.Defaults, true)
	for _, t := range inv.Targets {
		owner := fmt.Sprintf("target %q", t.Name)
		checkValues(owner, t.Params, false)
		for _, ps := range p.Params {
			if !ps.Required || ps.Default != nil || t.Params[ps.Name] != nil || (given != nil && given(ps.Name)) {
				continue
			}
			add(t.Pos, "%s: param %q is required by plan %q: set it under the target's params: or defaults: params:", owner, ps.Name, p.Name)
		}
	}
	return joinErrors(errs, nil)
}

// joinErrors merges the problems of a and b (either may be nil), sorted
// by position; nil when there are none.
func joinErrors(a runner.PlanErrors, b error) error {
	var all runner.PlanErrors
	all = append(all, a...)
	if pe, ok := b.(runner.PlanErrors); ok {
		all = append(all, pe...)
	}
	if len(all) == 0 {
		return nil
	}
	sortErrors(all)
	return all
}

// LoadFor loads the inventory at path and checks it against plan p (see
// Check), reporting the problems of both at once.
func LoadFor(path string, p *runner.Plan, given func(name string) bool) (*Inventory, error) {
	inv, err := LoadFile(path)
	loadErrs, isPlanErrs := err.(runner.PlanErrors)
	if inv == nil || (err != nil && !isPlanErrs) {
		return nil, err
	}
	if all := joinErrors(loadErrs, inv.Check(p, given)); all != nil {
		return nil, all
	}
	return inv, nil
}
