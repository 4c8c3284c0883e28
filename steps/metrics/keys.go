package metrics

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// KeyStorePaths returns the paths of the dir key stores a plan's keys:
// section names, resolved the way the runner resolves them (their ${{ }}
// see params, env, run and plan) and made absolute, so that a store has one
// label whoever reads it. An entry that does not resolve is left out. The
// stores of the plans its steps ran (plan steps) are included, resolved
// with the params those runs had (from their nested reports).
func KeyStorePaths(plan *runner.Plan, params map[string]any, environ []string, rep *runner.Report) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ownStorePaths(plan, params, environ, rep) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, s := range plan.Steps {
		st := rep.Step(s.ID)
		if s.Calls == nil || st == nil {
			continue
		}
		runs := []*runner.Report{st.Run}
		for i := range st.Items {
			runs = append(runs, st.Items[i].Run)
		}
		for _, run := range runs {
			if run == nil {
				continue
			}
			for _, p := range KeyStorePaths(s.Calls, run.Params, environ, run) {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// ownStorePaths is KeyStorePaths for plan's own keys: section.
func ownStorePaths(plan *runner.Plan, params map[string]any, environ []string, rep *runner.Report) []string {
	envMap := map[string]any{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	env := runner.Env{
		"params": params,
		"env":    envMap,
		"run":    map[string]any{"id": rep.RunID, "started": rep.Started, "date": rep.Started.UTC().Format("2006-01-02")},
		"plan":   map[string]any{"name": plan.Name, "file": plan.File},
	}
	var out []string
	for _, kc := range plan.Keys {
		store, err := runner.Interpolate(kc.Store, env)
		if err != nil || (fmt.Sprint(store) != "" && fmt.Sprint(store) != "dir") {
			continue
		}
		p, err := runner.Interpolate(kc.Path, env)
		if err != nil || fmt.Sprint(p) == "" {
			continue
		}
		abs, err := filepath.Abs(fmt.Sprint(p))
		if err != nil {
			continue
		}
		out = append(out, abs)
	}
	sort.Strings(out)
	return out
}

// storeFacts is what a dir key store's ledger says.
type storeFacts struct {
	activeSince float64 // Unix seconds; 0 without an active key
	hasActive   bool
	retired     map[string]bool // ids of retired keys
	ids         map[string]bool // every key id
}

// readStore reads a dir key store's ledger. Only public facts are read.
func readStore(path string) (*storeFacts, error) {
	d, err := keys.OpenDir(path)
	if err != nil {
		return nil, err
	}
	f := &storeFacts{retired: map[string]bool{}, ids: map[string]bool{}}
	for _, k := range d.Keys() {
		f.ids[k.ID] = true
		if k.State == keys.StateRetired {
			f.retired[k.ID] = true
		}
	}
	if a, err := d.Active(); err == nil {
		since := a.Activated
		if since.IsZero() {
			since = a.Created
		}
		f.activeSince, f.hasActive = unix(since), true
	}
	return f, nil
}

// stores records each key store's active key and retired keys, and a
// rotate-key step's count of backups still on retired keys against the
// store that holds its keys. A store that cannot be read (the run may have
// failed for that reason) is left out.
func stores(s *Set, rep *runner.Report, paths []string, redact func(string) string) {
	facts := map[string]*storeFacts{}
	for _, p := range paths {
		f, err := readStore(p)
		if err != nil {
			continue
		}
		facts[p] = f
		label := redact(p)
		if f.hasActive {
			s.set("sluice_key_active_since_timestamp_seconds", f.activeSince, label)
		}
		s.set("sluice_key_retired_keys", float64(len(f.retired)), label)
	}
	for _, rec := range records(rep) {
		st := rec.st
		if st.Type != "rotate-key" || st.Outputs == nil {
			continue
		}
		n, ok := runner.Number(st.Outputs["still_on_retired_keys"])
		if !ok {
			continue
		}
		for _, p := range paths {
			f := facts[p]
			if f != nil && (f.ids[str(st.Outputs["active_key_id"])] || f.ids[str(st.Outputs["previous_key_id"])]) {
				s.set("sluice_key_backups_on_retired_keys", n, redact(p))
			}
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
