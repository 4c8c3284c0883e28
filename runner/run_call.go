package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"time"
)

// callState keeps the runs of the plan a step (or an item) called, over all
// its attempts: their number names the next run's folder.
type callState struct {
	mu   sync.Mutex
	runs []*Report
}

// count returns how many runs were called so far.
func (cs *callState) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.runs)
}

// lastSince returns the report of the last run after the first n, or nil:
// an attempt's own, not an earlier attempt's.
func (cs *callState) lastSince(n int) *Report {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.runs) <= n {
		return nil
	}
	return cs.runs[len(cs.runs)-1]
}

// callPlan is StepContext.RunPlan: it runs s.Calls with params as part of
// this run. The called run has this run's id and start (run.id, run.date),
// its own params, keys and redaction of its secret params on top of this
// run's secrets, and a folder inside this run's: STEP, or the item's
// folder; a second attempt gets STEP.2 and so on.
func (r *run) callPlan(ctx context.Context, s *Step, it *item, params map[string]any, cs *callState) (*CallResult, error) {
	callee := s.Calls
	if callee == nil {
		return nil, fmt.Errorf("step type %q calls a plan, but the step was not loaded with it: this is a bug", s.Type)
	}
	values, err := callParams(callee, params)
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	n := len(cs.runs) + 1
	cs.mu.Unlock()
	dir := filepath.Join(r.dir, s.ID)
	if it != nil {
		dir = it.dir
	}
	if n > 1 {
		dir += "." + strconv.Itoa(n)
	}
	opts := r.opts
	opts.Params = values
	opts.Secrets = append([]string(nil), r.secrets...)
	opts.RunID = r.id
	log := r.log.With("call", s.ID)
	if it != nil {
		log = log.With("item", it.label)
	}
	opts.Logger = log
	started := r.started
	if r.nest != nil {
		started = r.nest.started
	}
	child, rep, err := execRun(ctx, callee, opts, &nesting{dir: dir, started: started, progress: r.progress})
	cs.mu.Lock()
	cs.runs = append(cs.runs, rep)
	cs.mu.Unlock()
	res := &CallResult{
		Plan: callee.Name, File: callee.File, Status: rep.Status, RunDir: dir,
		Duration: time.Duration(rep.DurationSeconds * float64(time.Second)),
		Outputs:  map[string]any{}, Steps: map[string]string{}, Gates: callGates(rep),
	}
	if o, ok := child.red.redactValue(map[string]any(child.outputs)).(map[string]any); ok {
		res.Outputs = o
	}
	for _, st := range rep.Steps {
		res.Steps[st.ID] = string(st.Status)
	}
	if err != nil {
		return res, fmt.Errorf("plan %s: %w", callee.File, err)
	}
	return res, nil
}

// callGates lists every gate of a report, nested calls and items included,
// each with the path of its step (see Report.Walk).
func callGates(rep *Report) []CallGate {
	var out []CallGate
	rep.Walk(func(path string, _ int, s *StepReport) {
		for _, g := range s.Gates {
			out = append(out, CallGate{Step: path, GateResult: g})
		}
	})
	return out
}

// callParams converts the values a call passes to the called plan's param
// types. A nil value is left out, so that the param's default applies.
// Errors never show a value.
func callParams(callee *Plan, in map[string]any) (map[string]any, error) {
	specs := make(map[string]*ParamSpec, len(callee.Params))
	var names []string
	for _, ps := range callee.Params {
		specs[ps.Name] = ps
		names = append(names, ps.Name)
	}
	out := make(map[string]any, len(in))
	for _, k := range sortedKeys(in) {
		ps := specs[k]
		if ps == nil {
			return nil, fmt.Errorf("plan %q has no param %q%s", callee.Name, k, Suggest(k, names))
		}
		if in[k] == nil {
			continue
		}
		v, err := convertParam(ps.Type, in[k])
		if err != nil {
			return nil, fmt.Errorf("param %q of plan %q: %w", k, callee.Name, err)
		}
		out[k] = v
	}
	return out, nil
}

// convertParam converts a value computed at run time to param type t: text
// is parsed as --param would parse it, numbers and durations become text
// for a string param, an int a number.
func convertParam(t ParamType, v any) (any, error) {
	if s, ok := v.(string); ok {
		return paramFromString(t, s)
	}
	bad := fmt.Errorf("want %s, got %s", paramTypeText(t), kindText(v))
	rv := reflect.ValueOf(v)
	switch t {
	case ParamString:
		switch v.(type) {
		case bool, int, int64, int32, float64, float32, time.Duration:
			return formatValue(v, false), nil
		}
	case ParamInt:
		switch x := v.(type) {
		case int:
			return x, nil
		case int64:
			return int(x), nil
		case float64:
			if x == float64(int(x)) {
				return int(x), nil
			}
		}
	case ParamNumber:
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case ParamBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case ParamDuration:
		if d, ok := v.(time.Duration); ok {
			return d, nil
		}
	case ParamList:
		if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			out := make([]any, rv.Len())
			for i := range out {
				out[i] = rv.Index(i).Interface()
			}
			return out, nil
		}
	case ParamMap:
		if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			for _, k := range rv.MapKeys() {
				out[k.String()] = rv.MapIndex(k).Interface()
			}
			return out, nil
		}
	}
	return nil, bad
}

// evalOutputs evaluates the plan's outputs: against the steps as they
// ended. An output that cannot be evaluated (its step was skipped, say) is
// left out, with a warning.
func (r *run) evalOutputs() {
	if len(r.plan.Outputs) == 0 {
		return
	}
	env := r.env(context.Background())
	r.outputs = make(map[string]any, len(r.plan.Outputs))
	for _, o := range r.plan.Outputs {
		v, err := o.Expr.Eval(env)
		if err != nil {
			r.log.Warn("plan output not set", "output", o.Name, "error", r.red.Redact(err.Error()))
			continue
		}
		r.outputs[o.Name] = v
	}
}
