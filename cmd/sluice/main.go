// Command sluice runs declarative pipelines for database-encryption
// operations: encrypted backups and restores, overhead gates, TLS audits and
// key rotation. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sluice-dev/sluice/runner"
)

// Exit codes, one per category; documented in README.md.
const (
	exitOK          = 0
	exitStepFailed  = 1
	exitUsage       = 2
	exitPlanInvalid = 3
	exitGateFailed  = 4
	exitInterrupted = 130
)

// usageError is a command-line mistake; its message is printed with a hint.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errNoCommand ends `sluice` without a command, after the usage.
var errNoCommand = errors.New("no command")

// app carries what every command shares: output streams and the redactor
// that keeps secrets out of everything printed.
type app struct {
	stdout, stderr io.Writer
	annotations    io.Writer // stdout as given: workflow commands, on GitHub Actions
	redactor       *runner.Redactor
	globals        globals
}

func main() { os.Exit(sluiceMain(os.Args[1:], os.Stdout, os.Stderr)) }

// teach makes the redactor mask secrets, besides those of the environment
// (runner.EnvSecrets) and any password in a URL or connection string.
func (a *app) teach(secrets ...string) {
	env, _ := runner.EnvSecrets(os.Environ())
	a.redactor = runner.NewRedactor(append(env, secrets...)...)
}

func sluiceMain(args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, annotations: stdout}
	a.teach()
	if onGitHubActions() {
		a.stdout, a.stderr = defuseWorkflowCommands(stdout), defuseWorkflowCommands(stderr)
	}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteC()
	var usage *usageError
	if errors.As(err, &usage) && usage.hint == "" && cmd != nil && cmd != root {
		usage.hint = fmt.Sprintf("run 'sluice %s -h' for usage", commandName(cmd))
	}
	return a.report(err)
}

// report prints err (redacted) and maps it to an exit code.
func (a *app) report(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errNoCommand) {
		return exitUsage
	}
	msg := a.redactor.Redact(err.Error())
	a.annotate(err) // GitHub Actions annotations, when running there
	var (
		usage   *usageError
		plan    runner.PlanErrors
		gate    *runner.GateError
		finding *findingError
	)
	switch {
	case errors.As(err, &usage):
		hint := usage.hint
		if hint == "" {
			hint = "run 'sluice help' for usage"
		}
		fmt.Fprintf(a.stderr, "sluice: error: %s\n", msg)
		fmt.Fprintf(a.stderr, "sluice: hint: %s\n", hint)
		return exitUsage
	case errors.As(err, &plan):
		// Compiler-style lines, one per problem, so editors can jump to them.
		fmt.Fprintln(a.stderr, msg)
		fmt.Fprintf(a.stderr, "sluice: error: plan is invalid (%d problem%s)\n", len(plan), runner.Plural(len(plan)))
		return exitPlanInvalid
	case errors.Is(err, runner.ErrInterrupted):
		fmt.Fprintf(a.stderr, "sluice: error: %s\n", msg)
		return exitInterrupted
	case errors.As(err, &gate), errors.As(err, &finding):
		fmt.Fprintf(a.stderr, "sluice: error: %s\n", msg)
		return exitGateFailed
	default:
		fmt.Fprintf(a.stderr, "sluice: error: %s\n", msg)
		return exitStepFailed
	}
}
