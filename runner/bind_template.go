package runner

import (
	"fmt"
	"strings"
)

// template is a string with ${{ expr }} parts.
type template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	lit  string
	expr *Expr // nil for a literal part
}

const (
	openDelim  = "${{"
	closeDelim = "}}"
)

// hasExpr reports whether s contains an interpolation.
func hasExpr(s string) bool { return strings.Contains(s, openDelim) }

// parseTemplate splits s into literal and expression parts and compiles the
// expressions. It returns nil, nil when s has no ${{.
func parseTemplate(s string) (*template, error) {
	if !hasExpr(s) {
		return nil, nil
	}
	t := &template{src: s}
	rest := s
	for rest != "" {
		i := strings.Index(rest, openDelim)
		if i < 0 {
			t.parts = append(t.parts, templatePart{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{lit: rest[:i]})
		}
		rest = rest[i+len(openDelim):]
		j := strings.Index(rest, closeDelim)
		if j < 0 {
			return nil, fmt.Errorf("%q is not closed with %q", openDelim, closeDelim)
		}
		src := strings.TrimSpace(rest[:j])
		e, err := CompileExpr(src)
		if err != nil {
			return nil, fmt.Errorf("invalid expression %q: %w", src, err)
		}
		t.parts = append(t.parts, templatePart{expr: e})
		rest = rest[j+len(closeDelim):]
	}
	return t, nil
}

// single reports whether the template is exactly one ${{ }} and returns it.
func (t *template) single() (*Expr, bool) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr, true
	}
	return nil, false
}

// exprs returns the template's compiled expressions.
func (t *template) exprs() []*Expr {
	var out []*Expr
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// eval resolves the template: a template that is exactly one ${{ }} keeps the
// value's type, any other is a string.
func (t *template) eval(env Env) (any, error) {
	if e, ok := t.single(); ok {
		v, err := e.Eval(env)
		if err != nil {
			return nil, fmt.Errorf("evaluating %q: %w", e.String(), err)
		}
		return v, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.Eval(env)
		if err != nil {
			return nil, fmt.Errorf("evaluating %q: %w", p.expr.String(), err)
		}
		b.WriteString(formatValue(v, false))
	}
	return b.String(), nil
}

// Interpolate resolves every ${{ expr }} in s against env. A string that is
// exactly one ${{ }} keeps the value's type; otherwise the result is a string
// with each value formatted (durations as Go strings, floats without trailing
// zeros). A string without ${{ is returned as is.
func Interpolate(s string, env Env) (any, error) {
	t, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return s, nil
	}
	return t.eval(env)
}
