package runner

// reportGates returns the gates step s's record shows, given its final
// status and the results its assertions recorded. Recorded results stand
// when they decided the outcome: the step succeeded, or it failed on one of
// them. Otherwise (the step was skipped, cancelled, or failed for another
// reason, e.g. a sink aborted because a sibling's gate failed) no assertion
// decided anything, whatever it evaluated to: every one is reported as not
// evaluated, so that a report never shows a pass for work that was undone,
// nor "no gates" for a plan whose gates did not get to run.
func reportGates(s *Step, status Status, recorded []GateResult) []GateResult {
	switch status {
	case StatusSucceeded:
		return recorded
	case StatusFailed:
		for _, g := range recorded {
			if g.Failed() {
				return recorded
			}
		}
	}
	if len(s.Asserts) == 0 {
		return nil
	}
	out := make([]GateResult, len(s.Asserts))
	for i, a := range s.Asserts {
		out[i] = GateResult{Expr: a.That.String(), Message: a.Message, NotEvaluated: true, File: a.Pos.File, Line: a.Pos.Line}
	}
	return out
}
