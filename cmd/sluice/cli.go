package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
)

// globals are the flags every command takes, defined once on the root
// command and meaning the same everywhere.
type globals struct {
	logLevel  string
	logFormat string
	stateDir  string
	plansDir  string
	json      bool
}

// jsonOutput marks, in a command's Annotations, a command that prints JSON
// with --json; --json on any other command is a usage error.
const jsonOutput = "json"

// newRoot builds the command tree. It is built anew for each call of
// sluiceMain, so that nothing of one call leaks into the next.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "run declarative pipelines for database-encryption work",
		Long: "sluice runs reviewed, repeatable YAML plans for database-encryption work: encrypted\n" +
			"PostgreSQL backups and restore drills, encryption-overhead gates, TLS audits and key rotation.",
		Version:       version(),
		Args:          cobra.ArbitraryArgs, // an unknown command is reported by RunE, as sluice does
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				_ = c.Help()
				return errNoCommand
			}
			var names []string
			for _, sub := range c.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return &usageError{
				msg:  fmt.Sprintf("unknown command %q%s", args[0], runner.Suggest(args[0], names)),
				hint: "run 'sluice help' for the list of commands",
			}
		},
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			return a.checkGlobals(c)
		},
	}
	root.SetVersionTemplate("sluice {{.Version}}\n")
	// The root and the groups run only to report a missing or unknown
	// command: their usage shows the sub-command form alone.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"Usage:{{if .Runnable}}", "Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s: %v", commandName(c), err)
	})
	g := &a.globals
	pf := root.PersistentFlags()
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.logFormat, "log-format", "auto", "log format: auto (human, coloured on a terminal), human or json")
	pf.StringVar(&g.stateDir, "state-dir", runner.DefaultStateDir, "where run folders and reports are written")
	pf.StringVar(&g.plansDir, "plans-dir", "plans", "where named plans live")
	pf.BoolVar(&g.json, "json", false, "print JSON (commands that print records: runs, report, keys list, backups list|verify|prune|sign)")
	completeValues(root, pf.Lookup("log-level"), "debug", "info", "warn", "error")
	completeValues(root, pf.Lookup("log-format"), "auto", "human", "json")
	completeDirs(root, pf.Lookup("state-dir"), pf.Lookup("plans-dir"))

	root.AddCommand(
		runCommand(a), validateCommand(a), graphCommand(a), listCommand(a),
		stepsCommand(a), schemaCommand(a), keysCommand(a), restoreCommand(a),
		reportCommand(a), runsCommand(a), backupsCommand(a), exportCommand(a),
	)
	completeKeyDirs(root)
	// cobra's own commands, in sluice's lower-case style.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			lowerShort(c)
		}
	}
	return root
}

// lowerShort starts the summaries of c and its sub-commands in lower case.
func lowerShort(c *cobra.Command) {
	if c.Short != "" {
		c.Short = strings.ToLower(c.Short[:1]) + c.Short[1:]
	}
	for _, sub := range c.Commands() {
		lowerShort(sub)
	}
}

// checkGlobals refuses global flags with values no command takes, and
// --json on a command that prints no JSON.
func (a *app) checkGlobals(c *cobra.Command) error {
	if hclog.LevelFromString(a.globals.logLevel) == hclog.NoLevel {
		return usagef("--log-level %q: want debug, info, warn or error", a.globals.logLevel)
	}
	switch a.globals.logFormat {
	case "auto", "human", "json":
	default:
		return usagef("--log-format %q: want auto, human or json", a.globals.logFormat)
	}
	if a.globals.json && c.Annotations[jsonOutput] == "" {
		return usagef("--json: sluice %s prints no JSON", commandName(c))
	}
	return nil
}

// group returns a command that only holds sub-commands; run without one,
// or with an unknown one, it is a usage error naming them.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs}
	c.AddCommand(subs...)
	var names []string
	for _, sub := range subs {
		names = append(names, sub.Name())
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
		if len(args) == 0 {
			return usagef("%s needs a sub-command: %s", commandName(c), want)
		}
		return usagef("unknown %s sub-command %q: want %s", commandName(c), args[0], want)
	}
	return c
}

// commandName is c's path without "sluice ": "run", "backups list".
func commandName(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// withJSON marks c as printing JSON with --json.
func withJSON(c *cobra.Command) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[jsonOutput] = "yes"
	return c
}

// jsonFormat applies --json to a command's --format, whose default is
// unset: with --json the format is json, and a --format naming another is
// a usage error.
func (a *app) jsonFormat(format, unset string) (string, error) {
	if !a.globals.json {
		return format, nil
	}
	if format != unset && format != "json" {
		return "", usagef("--json and --format %s contradict each other", format)
	}
	return "json", nil
}

// noArgs refuses positional arguments, for commands that take none.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usagef("%s takes no arguments, got %d", commandName(c), len(args))
	}
	return nil
}
