// Command sluice runs declarative pipelines for database-encryption
// operations: encrypted backups and restores, overhead gates, TLS audits and
// key rotation. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

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

// errUsage marks a command-line mistake; its message is printed with a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// command is one sluice sub-command.
type command struct {
	summary string
	run     func(app *app, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"run":      {"run a plan (a file or a name under --plans-dir)", cmdRun},
		"validate": {"check plans and report every problem", cmdValidate},
		"graph":    {"print a plan's DAG as Mermaid or Graphviz dot", cmdGraph},
		"list":     {"list the named plans with their descriptions", cmdList},
		"steps":    {"describe the step types, or one of them", cmdSteps},
		"schema":   {"print the JSON Schema of plans", cmdSchema},
		"keys":     {"manage key stores: init, list, show, destroy", cmdKeys},
		"restore":  {"restore a backup from its manifest, no plan needed", cmdRestore},
		"report":   {"print a run's summary, or render its report as html, junit, markdown or json", cmdReport},
		"runs":     {"list the recorded runs, newest first", cmdRuns},
		"backups":  {"list, verify, prune and sign the backups under a destination, or print their metrics", cmdBackups},
		"export":   {"print Argo Workflows or Kubernetes manifests that run a plan over an inventory", cmdExport},
	}
}

// app carries what every command shares: output streams and the redactor
// that keeps secrets out of everything printed.
type app struct {
	stdout, stderr io.Writer
	annotations    io.Writer // stdout as given: workflow commands, on GitHub Actions
	redactor       *runner.Redactor
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" {
		fmt.Fprintf(stdout, "sluice %s\n", version())
		return exitOK
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "sluice: error: unknown command %q\n", args[0])
		fmt.Fprintln(a.stderr, "sluice: hint: run 'sluice help' for the list of commands")
		return exitUsage
	}
	return a.report(cmd.run(a, args[1:]))
}

// report prints err (redacted) and maps it to an exit code.
func (a *app) report(err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
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
		fmt.Fprintf(a.stderr, "sluice: error: %s\n", msg)
		fmt.Fprintln(a.stderr, "sluice: hint: run 'sluice help' for usage")
		return exitUsage
	case errors.As(err, &plan):
		// Compiler-style lines, one per problem, so editors can jump to them.
		fmt.Fprintln(a.stderr, msg)
		fmt.Fprintf(a.stderr, "sluice: error: plan is invalid (%d problem%s)\n", len(plan), plural(len(plan)))
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

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: sluice COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, name := range commandNames() {
		fmt.Fprintf(w, "  %-9s %s\n", name, commands()[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'sluice COMMAND -h' for a command's flags.")
}

func commandNames() []string {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
