package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// injectPlan runs a command whose stderr carries workflow commands, as a
// hostile or compromised tool (or a database error message quoting
// attacker-chosen text) would: v2 commands at the start of a line, after
// spaces, after a no-break space and after a bare CR, and the legacy
// ##[command] form in the middle of a line. fail: true makes the command
// exit 3 (a step error quoting its stderr); otherwise it exits 0 and a gate
// on its stderr fails (operand values quoting it).
const injectPlan = `version: 1
params:
  fail: {type: bool, default: false}
steps:
  inject:
    type: exec
    with:
      shell: true
      command: |
        printf 'ordinary line\n::warning::pwned\n   ::add-mask::hide-this\n::set-output name=x::y\nsee ##[warning]legacy-pwned\nbefore\r::error::after-cr\n\302\240::notice::nbsp\n::stop-commands::tok\n' >&2
        if [ "${{ params.fail }}" = true ]; then exit 3; fi
    assert:
      - that: steps.inject.stderr == ""
        message: stderr must be empty
`

// workflowCommands returns the workflow commands the GitHub Actions runner
// would execute in out, parsing it the way actions/runner does
// (ActionCommand.TryParseV2, then the legacy TryParse): lines split at CR,
// LF or CRLF; v2 "::name props::data" after leading white space is trimmed;
// legacy "##[name props]data" anywhere in a line; only registered names.
func workflowCommands(out string) []string {
	registered := map[string]bool{}
	for _, c := range strings.Fields("set-env set-output save-state add-mask add-path add-matcher remove-matcher " +
		"debug warning error notice group endgroup echo stop-commands") {
		registered[c] = true
	}
	name := func(info string) string { n, _, _ := strings.Cut(info, " "); return n }
	var cmds []string
	for _, line := range regexp.MustCompile(`\r\n|\r|\n`).Split(out, -1) {
		v2 := strings.TrimLeftFunc(line, unicode.IsSpace)
		if rest, ok := strings.CutPrefix(v2, "::"); ok {
			if end := strings.Index(rest, "::"); end >= 0 && registered[name(rest[:end])] {
				cmds = append(cmds, v2)
				continue
			}
		}
		if i := strings.Index(line, "##["); i >= 0 {
			if end := strings.IndexByte(line[i:], ']'); end >= 0 && registered[name(line[i+3:i+end])] {
				cmds = append(cmds, line[i:])
			}
		}
	}
	return cmds
}

// TestGitHubAnnotationInjection runs plans whose exec step prints workflow
// commands on stderr, on GitHub Actions, and parses everything sluice
// prints as the runner does: the only commands are sluice's own ::error
// annotations, on stdout, and their data carries no line break.
func TestGitHubAnnotationInjection(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("GITHUB_ACTIONS", "true")
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	if err := os.WriteFile("inject.yaml", []byte(injectPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fail string
		code int
		own  int // sluice's own annotations
	}{
		{"step error quoting stderr", "true", exitStepFailed, 0},
		{"failed gate quoting stderr", "false", exitGateFailed, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sluiceCLI(t, "run", "inject.yaml", "--param", "fail="+tc.fail, "--log-level", "debug")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			// The command's text is shown, not dropped: only defused.
			for _, want := range []string{"pwned", "hide-this", "legacy-pwned", "after-cr"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			for _, c := range workflowCommands(r.stderr) {
				t.Errorf("stderr issues a workflow command: %q", c)
			}
			own := 0
			for _, c := range workflowCommands(r.stdout) {
				if !strings.HasPrefix(c, "::error file=inject.yaml,") || !strings.Contains(c, "title=sluice%3A gate failed") {
					t.Errorf("stdout issues a workflow command that is not sluice's: %q", c)
					continue
				}
				own++
			}
			if own != tc.own {
				t.Errorf("%d sluice annotations on stdout, want %d:\n%q", own, tc.own, r.stdout)
			}
		})
	}
}

// TestCommandDefuserSplitWrites feeds the defuser one byte at a time, as a
// pipe may deliver it: commands split across writes are defused too, and
// text without commands passes unchanged.
func TestCommandDefuserSplitWrites(t *testing.T) {
	for in, want := range map[string]string{
		"plain text: a::b, c#[d]\n":              "plain text: a::b, c#[d]\n",
		"x\n::warning::w\n":                      "x\n:\u200b:warning::w\n",
		"x\r \t::error::e":                       "x\r \t:\u200b:error::e",
		"see ##[add-mask]m and ###[group]g":      "see ##\u200b[add-mask]m and ###\u200b[group]g",
		"\u00a0::notice::n\n: single colon\n":    "\u00a0:\u200b:notice::n\n: single colon\n",
		"sluice: error: x: stderr: a\n::debug::": "sluice: error: x: stderr: a\n:\u200b:debug::",
	} {
		var out strings.Builder
		d := &commandDefuser{w: &out}
		for i := range len(in) {
			if n, err := d.Write([]byte{in[i]}); n != 1 || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if out.String() != want {
			t.Errorf("defused %q = %q, want %q", in, out.String(), want)
		}
		if cmds := workflowCommands(out.String()); len(cmds) > 0 {
			t.Errorf("defused %q still issues %q", in, cmds)
		}
	}
}
