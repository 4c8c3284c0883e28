package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// newFlags returns a flag set whose errors come back to the caller as usage
// errors instead of exiting.
func newFlags(a *app, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(a.stdout, "usage: sluice %s [flags] %s\n\nflags:\n", name, args)
		fs.SetOutput(a.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags wherever they stand among the positional arguments
// (`sluice run plan.yaml --param a=b` works) and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				fs.Usage()
				return nil, errHelp
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// errHelp ends a command after it printed its help.
var errHelp = fmt.Errorf("help requested")

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// resolvePlan turns a plan argument into a file: an existing path, or a name
// looked up as DIR/NAME.yaml (or .yml).
func resolvePlan(arg, plansDir string) (string, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return arg, nil
	}
	if !strings.ContainsAny(arg, `/\`) && filepath.Ext(arg) == "" {
		for _, ext := range []string{".yaml", ".yml"} {
			p := filepath.Join(plansDir, arg+ext)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", usagef("no plan named %q in %s (run 'sluice list' to see the named plans)", arg, plansDir)
	}
	return "", usagef("plan file %s does not exist", arg)
}
