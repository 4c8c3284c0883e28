package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sluice": func() { os.Exit(sluiceMain(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: one file per
// behaviour, each a self-contained plan plus the expected output.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Plans in scripts may name the repository's committed plans.
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("REPO", wd+"/../..")
			return nil
		},
		Cmds:      map[string]func(ts *testscript.TestScript, neg bool, args []string){"readonly": cmdReadonly},
		Condition: scriptCondition,
	})
}

// bashCompletion is the bash-completion package's script, which cobra's
// bash completion needs (scripts/install-test-deps.sh installs it).
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// scriptCondition answers the scripts' own conditions:
// [bash-completion]: bash and the bash-completion package are installed,
// and always true in CI (CI=true), where a missing one must fail the
// script rather than skip it.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "bash-completion":
		if os.Getenv("CI") == "true" {
			return true, nil
		}
		_, err := os.Stat(bashCompletion)
		_, errBash := exec.LookPath("bash")
		return err == nil && errBash == nil, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// cmdReadonly makes a folder unwritable until the script ends, as a
// read-only mount would: chmod 0500, and for root (whom modes do not stop)
// chattr +i. Usage: readonly DIR.
func cmdReadonly(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: readonly DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.Chmod(dir, 0o500))
	ts.Defer(func() { os.Chmod(dir, 0o700) })
	probe := filepath.Join(dir, ".probe")
	f, err := os.Create(probe)
	if err != nil {
		return // the mode suffices: not root
	}
	f.Close()
	os.Remove(probe)
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		ts.Fatalf("cannot make %s read-only as root: chattr +i: %v: %s (run the tests as another user, or on a file system with immutable folders)", dir, err, out)
	}
	ts.Defer(func() { exec.Command("chattr", "-i", dir).Run() })
}
