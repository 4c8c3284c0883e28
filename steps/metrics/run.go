package metrics

import (
	"github.com/sluice-dev/sluice/runner"
)

// RunOptions say what Run adds to a report's facts.
type RunOptions struct {
	// Target names the fleet target the run was for (sluice run
	// --inventory); it is the target label and part of the Pushgateway
	// grouping key, so that the runs of one plan for several targets do not
	// replace each other's metrics. Empty: the report's target, if any.
	Target string
	// Stores are the paths of the dir key stores the plan names (see
	// KeyStorePaths); their active key's age and retired keys are read from
	// their ledgers after the run.
	Stores []string
	// Redact masks secrets in label values (the run's redactor); nil keeps
	// them as they are. Reports are redacted already; this covers what does
	// not come from one (key store paths).
	Redact func(string) string
}

// Run returns the metrics of a finished run: its outcome and duration, each
// step's, the bytes of stream steps, the gates, and the domain facts the
// steps' outputs carry (backups, verification, TLS audits, overhead gates,
// key rotation) and the key stores' state.
func Run(rep *runner.Report, opts RunOptions) *Set {
	target := opts.Target
	if target == "" {
		target = rep.Target
	}
	s := NewSet("plan", rep.Plan, "target", target)
	redact := opts.Redact
	if redact == nil {
		redact = func(v string) string { return v }
	}
	finished := unix(rep.Finished)
	ok := rep.Status == runner.StatusSucceeded
	s.set("sluice_run_success", b2f(ok))
	s.set("sluice_run_duration_seconds", rep.DurationSeconds)
	s.set("sluice_run_last_finish_timestamp_seconds", finished)
	if ok {
		s.set("sluice_run_last_success_timestamp_seconds", finished)
		s.set("sluice_run_consecutive_failures", 0)
	} else {
		s.set("sluice_run_last_failure_timestamp_seconds", finished)
		s.carry("sluice_run_consecutive_failures", 1)
	}
	for i := range rep.Steps {
		st := &rep.Steps[i]
		if st.Status == runner.StatusSkipped {
			continue
		}
		s.set("sluice_step_success", b2f(st.Status == runner.StatusSucceeded), st.ID, st.Type)
		s.set("sluice_step_duration_seconds", st.DurationSeconds, st.ID, st.Type)
		if st.Bytes != nil {
			if st.Kind == runner.KindTransform || st.Kind == runner.KindSink {
				s.set("sluice_step_input_bytes", float64(st.Bytes.In), st.ID, st.Type)
			}
			if st.Kind == runner.KindSource || st.Kind == runner.KindTransform {
				s.set("sluice_step_output_bytes", float64(st.Bytes.Out), st.ID, st.Type)
			}
		}
		gates(s, st)
	}
	backups(s, rep)
	for _, rec := range records(rep) {
		switch rec.st.Type {
		case "verify":
			verify(s, rec.st)
		case "check-tls":
			tlsAudit(s, rec.st)
		case "assert-overhead":
			overhead(s, rec.path, rec.st)
		}
	}
	stores(s, rep, opts.Stores, redact)
	return s
}

// gates records each assertion of a step; two with the same name pass only
// when both do.
func gates(s *Set, st *runner.StepReport) {
	for _, g := range st.Gates {
		name := g.Message
		if name == "" {
			name = g.Expr
		}
		v := b2f(g.Passed)
		if old, ok := s.value("sluice_gate_passed", st.ID, name); ok {
			v = min(v, old)
		}
		s.set("sluice_gate_passed", v, st.ID, name)
	}
}
