package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/command"
	"gopkg.in/yaml.v3"
)

func execDefinition() runner.Definition {
	return runner.Definition{
		Type:    "exec",
		Kind:    runner.KindAction,
		Summary: "Run a command (an argv list, or one string with shell: true) and capture its exit code and bounded output",
		New:     func() any { return &Exec{} },
		Outputs: []runner.OutputSpec{
			{Name: "exit_code", Type: "int", Doc: "the command's exit code"},
			{Name: "stdout", Type: "string", Doc: "the first stdout_limit bytes of standard output"},
			{Name: "stderr", Type: "string", Doc: "the last stdout_limit bytes of standard error"},
			{Name: "duration", Type: "duration", Doc: "how long the command ran"},
		},
	}
}

// Exec is the parameter struct of the exec step.
type Exec struct {
	Command        Argv              `yaml:"command" required:"true" expr:"defer" doc:"the program and its arguments as a list (an argument that holds a secret is refused: other users can read command lines; hand secrets over in env); with shell: true, one string for sh -c, in which each ${{ }} reaches sh as a quoted environment variable ($SLUICE_EXPR_1, ...), never as shell code"`
	Shell          bool              `yaml:"shell" doc:"run command, one string, with sh -c"`
	Env            map[string]string `yaml:"env" doc:"extra environment variables, added to sluice's own: the way to hand values (params, outputs) to a command"`
	Dir            string            `yaml:"dir" doc:"working directory (default: sluice's)"`
	AllowExitCodes []int             `yaml:"allow_exit_codes" doc:"non-zero exit codes that do not fail the step"`
	StdoutLimit    int               `yaml:"stdout_limit" default:"65536" doc:"bytes of stdout (the first) and stderr (the last) kept in outputs"`
}

// Argv is a command line. In YAML it is a list of strings, or one string
// (which, without shell: true, is the program alone).
type Argv []string

// UnmarshalYAML accepts a list of strings or one string.
func (a *Argv) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*a = Argv{s}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*a = list
	return nil
}

var (
	_ runner.Action    = (*Exec)(nil)
	_ runner.Validator = (*Exec)(nil)
	_ runner.Linter    = (*Exec)(nil)
)

// Lint warns about ${{ }} in a shell command: it is safe (the value goes in
// the environment) but reads as if the text were pasted into the script.
func (e *Exec) Lint(exprFields map[string]bool) []runner.Lint {
	if !e.Shell || !exprFields["command"] {
		return nil
	}
	return []runner.Lint{{Field: "command", Msg: "${{ }} in a shell command: sluice passes each value to sh in an environment variable " +
		"($SLUICE_EXPR_1, ...), quoted, so it is one word and never runs as shell code; say so in the plan: " +
		`env: {NAME: "${{ params.x }}"} and "$NAME" in the command`}}
}

// Validate checks the command's shape and the limit.
func (e *Exec) Validate() error {
	switch {
	case len(e.Command) == 0 || e.Command[0] == "":
		return errors.New("command: give the program and its arguments, e.g. [pg_isready, -h, localhost]")
	case e.Shell && len(e.Command) != 1:
		return fmt.Errorf("command: with shell: true, give one string for sh -c, not a list of %d", len(e.Command))
	case e.StdoutLimit < 0:
		return fmt.Errorf("stdout_limit: %d is negative", e.StdoutLimit)
	}
	return nil
}

// Run runs the command (see command.Run) and returns its exit code and
// bounded output, also when it failed.
func (e *Exec) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	argv, env, err := e.argv(sc)
	if err != nil {
		return nil, err
	}
	name := argv[0]
	if e.Shell {
		name = "sh -c"
	}
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		env = append(env, k+"="+e.Env[k])
	}
	res, err := command.Run(ctx, command.Spec{Name: name, Argv: argv, Env: env, Dir: e.Dir, Limit: e.StdoutLimit, AllowExitCodes: e.AllowExitCodes})
	return runner.Outputs{
		"exit_code": int64(res.ExitCode),
		"stdout":    res.Stdout,
		"stderr":    res.Stderr,
		"duration":  res.Duration,
	}, err
}

// argv expands the command's ${{ }}: into each argument of an argv command,
// and into environment variables a shell command refers to
// (command.ShellScript).
func (e *Exec) argv(sc *runner.StepContext) (argv, env []string, err error) {
	if e.Shell {
		script, env, err := command.ShellScript(e.Command[0], sc.Expand)
		return []string{"sh", "-c", script}, env, err
	}
	argv = make([]string, len(e.Command))
	for i, a := range e.Command {
		if argv[i], err = sc.Expand(a); err != nil {
			return nil, nil, fmt.Errorf("command[%d]: %w", i, err)
		}
	}
	if argv[0] == "" {
		return nil, nil, errors.New("command: the program's name is empty")
	}
	for i, a := range argv {
		if addsSecret(e.Command[i], a, sc.Secrets) {
			return nil, nil, fmt.Errorf("command[%d] holds a secret (a secret param, the password of a connection string, a secret environment variable), and other local users can read a process's command line: hand it over in env: (env: {PGPASSWORD: ...}) and let the command read it there (shell: true and \"$PGPASSWORD\", or the program's own variable)", i)
		}
	}
	return argv, nil, nil
}

// addsSecret tells whether expanding written into s put one of secrets
// (those long enough to be told from ordinary text, as the redactor's)
// into it: a word the plan writes itself ("postgres", when PGPASSWORD is
// that too) is not a secret's doing.
func addsSecret(written, s string, secrets []string) bool {
	for _, v := range secrets {
		if len(v) >= runner.MinSecretLen && strings.Count(s, v) > strings.Count(written, v) {
			return true
		}
	}
	return false
}
