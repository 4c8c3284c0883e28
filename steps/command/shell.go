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
// are tracked as POSIX sh reads them; a here-document body or a quote inside
// $( ) is not understood, so there a value may gain quotes (never run).
func ShellScript(command string, expand func(string) (string, error)) (string, []string, error) {
	var script strings.Builder
	var env []string
	quote := byte(0) // 0, '\'' or '"'
	rest := command
	for {
		i := strings.Index(rest, "${{")
		lit := rest
		if i >= 0 {
			lit = rest[:i]
		}
		quote = scanQuotes(lit, quote)
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
		switch quote {
		case '"':
			script.WriteString("${" + name + "}")
		case '\'':
			script.WriteString(`'"${` + name + `}"'`)
		default:
			script.WriteString(`"${` + name + `}"`)
		}
	}
}

// scanQuotes returns the quoting state after s, starting in state q: 0
// outside quotes, or the open quote character.
func scanQuotes(s string, q byte) byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'':
			if c == '\'' {
				q = 0
			}
		case c == '\\':
			i++ // escapes the next character outside single quotes
		case q == '"':
			if c == '"' {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		}
	}
	return q
}
