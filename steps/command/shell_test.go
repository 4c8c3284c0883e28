package command

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestShellScriptValuesNeverRun feeds values made to break out of every
// quoting context through ShellScript and runs the result with sh: each
// value must arrive as its own text, and nothing in it may run.
func TestShellScriptValuesNeverRun(t *testing.T) {
	dir := t.TempDir()
	values := []string{
		"app; touch pwned",
		`x'; touch pwned; echo '`,
		`x"; touch pwned; echo "`,
		"$(touch pwned)`touch pwned`",
		`\'\"\\ $HOME * ?`,
		"two\nlines",
	}
	templates := []struct{ command, want string }{
		{`printf '%s|' ${{ v }}`, "V|"},
		{`printf '%s|' "in ${{ v }} double"`, "in V double|"},
		{`printf '%s|' 'in ${{ v }} single'`, "in V single|"},
		{`printf '%s|' \'${{ v }}`, "'V|"},
		{`printf '%s|' "\"${{ v }}"`, `"V|`},
		{`printf '%s|' 'a'"b${{ v }}"'c${{ v }}'`, "abVcV|"},
		// A quote in a comment opens nothing: the value after it is still
		// one word (it was split and globbed).
		{"# don't\nprintf '%s|' \"${{ v }}\" ${{ v }}", "V|V|"},
		{"# ${{ v }} don't\nprintf '%s|' ${{ v }}", "V|"},
		{`printf '%s|' x#'${{ v }}'`, "x#V|"},
	}
	for _, v := range values {
		for _, tt := range templates {
			expand := func(s string) (string, error) {
				if strings.TrimSpace(s[3:len(s)-2]) != "v" {
					t.Fatalf("expand(%q)", s)
				}
				return v, nil
			}
			script, env, err := ShellScript(tt.command, expand)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", script)
			cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if want := strings.ReplaceAll(tt.want, "V", v); err != nil || string(out) != want {
				t.Errorf("%s with %q: script %s printed %q, %v; want %q", tt.command, v, script, out, err, want)
			}
			if _, err := os.Stat(dir + "/pwned"); err == nil {
				t.Fatalf("%s with %q: the value ran as shell code (script %s)", tt.command, v, script)
			}
		}
	}
	if _, _, err := ShellScript("echo ${{ v", nil); err == nil {
		t.Error("an unclosed ${{ was accepted")
	}
}
