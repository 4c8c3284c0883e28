package runner

import (
	"fmt"
	"strings"
	"time"
)

// report builds the run's report from the steps' states; err is the run's
// error. Every string in it is redacted.
func (r *run) report(err error) *Report {
	finished := time.Now()
	rep := &Report{
		Version:         ReportVersion,
		RunID:           r.id,
		Plan:            r.plan.Name,
		PlanFile:        r.plan.File,
		Target:          r.opts.Target,
		Labels:          r.reportLabels(),
		Fleet:           r.opts.Fleet,
		Started:         r.started.UTC(),
		Finished:        finished.UTC(),
		DurationSeconds: finished.Sub(r.started).Seconds(),
		Status:          StatusSucceeded,
		Params:          r.reportParams(),
		Steps:           make([]StepReport, 0, len(r.plan.Steps)),
	}
	switch {
	case err == nil:
	case err == ErrInterrupted:
		rep.Status = StatusInterrupted
	default:
		rep.Status = StatusFailed
	}
	if err != nil {
		rep.Error = r.red.Redact(err.Error())
	}
	if len(r.outputs) > 0 {
		rep.Outputs = reportValue(r.outputs, r.red).(map[string]any)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.plan.Steps {
		sr := r.steps[s.ID]
		st := r.stepReport(s, sr.record)
		st.Input, st.Deps = s.Input, s.Deps
		for _, it := range sr.items {
			ir := r.stepReport(s, it.record)
			ir.Key, ir.Input = r.red.Redact(fmt.Sprint(it.key)), s.Input
			st.Items = append(st.Items, ir)
		}
		if len(st.Items) > 0 {
			// Each item's record shows its own gates and what it did.
			st.Gates, st.Outcome = nil, ""
		}
		rep.Steps = append(rep.Steps, st)
	}
	return rep
}

// stepReport is the report of step s's record rec (the step's, or one
// item's).
func (r *run) stepReport(s *Step, rec record) StepReport {
	st := StepReport{ID: s.ID, Type: s.Type, Status: rec.status, Attempts: rec.attempts, Bytes: rec.bytes, Run: rec.run}
	if s.Def != nil {
		st.Kind = s.Def.Kind
	}
	if st.Status == StatusPending {
		// The run ended before the step was decided (a setup failure).
		st.Status = StatusCancelled
	}
	if !rec.started.IsZero() {
		st.Started, st.Finished = rec.started.UTC(), rec.finished.UTC()
		st.DurationSeconds = rec.finished.Sub(rec.started).Seconds()
	}
	if rec.err != nil {
		// The record names the step already.
		msg := strings.TrimPrefix(rec.err.Error(), fmt.Sprintf("step %q: ", s.ID))
		st.Error = r.red.Redact(msg)
	}
	if len(rec.outputs) > 0 {
		st.Outputs = reportValue(map[string]any(rec.outputs), r.red).(map[string]any)
	}
	st.Gates = reportGates(s, st.Status, rec.gates)
	st.Outcome = r.red.Redact(stepOutcome(s, st.Status, rec.outputs))
	return st
}

// reportParams returns the run's params with secret params masked and every
// other string redacted.
func (r *run) reportParams() map[string]any {
	secret := map[string]bool{}
	for _, ps := range r.plan.Params {
		secret[ps.Name] = ps.Secret
	}
	out := make(map[string]any, len(r.params))
	for k, v := range r.params {
		if secret[k] {
			out[k] = Mask
			continue
		}
		out[k] = reportValue(v, r.red)
	}
	return out
}

// reportLabels returns the target's labels, redacted like every other string
// of the report; nil without labels.
func (r *run) reportLabels() map[string]string {
	if len(r.opts.Labels) == 0 {
		return nil
	}
	out := make(map[string]string, len(r.opts.Labels))
	for k, v := range r.opts.Labels {
		out[r.red.Redact(k)] = r.red.Redact(v)
	}
	return out
}
