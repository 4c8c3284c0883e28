package main

import (
	"os"
	"path/filepath"
	"strings"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Type names the flag's value in help, as pflag's own repeatable flags do.
func (m *multiFlag) Type() string { return "stringArray" }

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
