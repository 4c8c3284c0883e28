package runner

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInterrupted is returned by Run when the caller cancelled its context
// (the CLI does on SIGINT). Every pending sink was aborted first.
var ErrInterrupted = errors.New("interrupted")

// ErrPlanTimeout is wrapped by the error Run returns when the plan's
// settings.timeout elapsed.
var ErrPlanTimeout = errors.New("plan timed out")

// ErrStepTimeout is wrapped by the error of a step whose timeout elapsed.
var ErrStepTimeout = errors.New("timed out")

// StepError is the failure of one step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	prefix := fmt.Sprintf("step %q: ", e.Step)
	msg := e.Err.Error()
	if strings.HasPrefix(msg, prefix) {
		return msg // the step's error already names it (binding errors do)
	}
	return prefix + msg
}

// Unwrap returns the step's own error.
func (e *StepError) Unwrap() error { return e.Err }

// GateError is a failed assertion: the step ran, but a gate on its outputs
// did not hold.
type GateError struct {
	Step     string
	Expr     string
	Message  string // the assertion's message; may be empty
	Operands string // the operand values, e.g. "steps.upload.bytes = 0"
	Pos      Pos
}

func (e *GateError) Error() string {
	s := fmt.Sprintf("step %q: assertion failed: %s", e.Step, e.Expr)
	if e.Operands != "" {
		s += ": " + e.Operands
	}
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	return s
}

// timeoutError is the cause given to a context that a timeout cancels, so
// that the runner can tell a timeout from other cancellations.
type timeoutError struct {
	what string // "step" or "plan"
	d    time.Duration
}

func (e *timeoutError) Error() string {
	if e.what == "plan" {
		return fmt.Sprintf("%v after %s (settings.timeout)", ErrPlanTimeout, e.d)
	}
	return fmt.Sprintf("%v after %s", ErrStepTimeout, e.d)
}

func (e *timeoutError) Unwrap() error {
	if e.what == "plan" {
		return ErrPlanTimeout
	}
	return ErrStepTimeout
}

// errFailFast is the cause of the run context's cancellation after a step
// failed.
type errFailFast struct {
	step string
	item string // the item of step that failed, with fail_fast
}

func (e *errFailFast) Error() string {
	if e.item != "" {
		return fmt.Sprintf("cancelled because item %q of step %q failed (fail_fast)", e.item, e.step)
	}
	return fmt.Sprintf("cancelled because step %q failed", e.step)
}

// redactedError presents an error with its message redacted while keeping
// errors.Is and errors.As working on what it wraps.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactError(err error, red *Redactor) error {
	if err == nil {
		return nil
	}
	msg := red.Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
