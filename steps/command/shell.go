package command

import (
	"fmt"
	"strings"
)

// exprEnvPrefix names the environment variables that carry the values of a
// shell command's ${{ }} expressions: SLUICE_EXPR_1, SLUICE_EXPR_2, ...
const exprEnvPrefix = "SLUICE_EXPR_"

// ShellScript turns a shell command as written in the plan into a script
// that refers to each ${{ expr }} as an environment variable, and those
// variables' values (expanded by expand). A value is never parsed as shell
// code: the reference is quoted for where it stands, "${SLUICE_EXPR_1}"
// outside quotes, ${SLUICE_EXPR_1} inside double quotes and '"${...}"'
// inside single quotes, so it stays one word with its text unchanged. Quotes
// and comments are tracked as POSIX sh reads them; a here-document body or a
// quote inside $( ) is not understood, so there a value may gain quotes
// (never run).
func ShellScript(command string, expand func(string) (string, error)) (string, []string, error) {
	var script strings.Builder
	var env []string
	st := shellState{wordStart: true}
	rest := command
	for {
		i := strings.Index(rest, "${{")
		lit := rest
		if i >= 0 {
			lit = rest[:i]
		}
		st.scan(lit)
		script.WriteString(lit)
		if i < 0 {
			return script.String(), env, nil
		}
		rest = rest[i+3:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return "", nil, fmt.Errorf("command: %q is not closed with %q", "${{", "}}")
		}
		v, err := expand("${{" + rest[:j] + "}}")
		if err != nil {
			return "", nil, fmt.Errorf("command: %w", err)
		}
		rest = rest[j+2:]
		name := fmt.Sprintf("%s%d", exprEnvPrefix, len(env)+1)
		env = append(env, name+"="+v)
		st.wordStart = false
		switch st.q {
		case '"':
			script.WriteString("${" + name + "}")
		case '\'':
			script.WriteString(`'"${` + name + `}"'`)
		default:
			script.WriteString(`"${` + name + `}"`)
		}
	}
}

// shellState is where sh is in a script: q is 0 outside quotes, the open
// quote character, or '#' in a comment (whose quotes mean nothing: "# don't"
// opens no quote); wordStart says the next character starts a word, where
// '#' starts a comment.
type shellState struct {
	q         byte
	wordStart bool
}

// scan moves the state over s.
func (st *shellState) scan(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case st.q == '#':
			if c == '\n' {
				st.q = 0
			}
		case st.q == '\'':
			if c == '\'' {
				st.q = 0
			}
		case c == '\\':
			i++ // escapes the next character outside single quotes
		case st.q == '"':
			if c == '"' {
				st.q = 0
			}
		case c == '#' && st.wordStart:
			st.q = '#'
		case c == '\'' || c == '"':
			st.q = c
		}
		st.wordStart = st.q == 0 && strings.IndexByte(" \t\n;&|()<>", c) >= 0
	}
}
