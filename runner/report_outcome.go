package runner

import "fmt"

// stepOutcome is the one line Definition.Outcome says about a succeeded
// step's outputs; "" for other steps and types without one. A panicking
// Outcome costs the line, not the report.
func stepOutcome(s *Step, status Status, outs Outputs) (line string) {
	if status != StatusSucceeded || s.Def == nil || s.Def.Outcome == nil {
		return ""
	}
	defer func() {
		if p := recover(); p != nil {
			line = fmt.Sprintf("(no outcome: step type %s failed to describe its outputs: %v)", s.Type, p)
		}
	}()
	return s.Def.Outcome(outs)
}
