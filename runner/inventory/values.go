package inventory

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
)

// envRefRE is the one expression an inventory may hold: a reference to an
// environment variable. Anything richer belongs in the plan, which is
// reviewed as code; the inventory is data, often generated.
var envRefRE = regexp.MustCompile(`\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// checkValue checks a param value and everything inside it: every ${{ }}
// is an environment reference, and no URL or connection string holds a
// password in clear. It returns the environment variables referenced and
// whether the value passed.
func (l *loader) checkValue(n *yaml.Node, what string) ([]string, bool) {
	seen := map[string]bool{}
	ok := true
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind != yaml.ScalarNode {
			for _, c := range n.Content {
				walk(c)
			}
			return
		}
		refs, bad := envRefs(n.Value)
		if bad != "" {
			l.add(n, "%s: %s is not allowed in an inventory: only ${{ env.NAME }}, which reads the environment variable NAME when the target runs", what, bad)
			ok = false
		}
		for _, r := range refs {
			seen[r] = true
		}
		for _, pw := range runner.Passwords(n.Value) {
			if !strings.Contains(pw, "${{") {
				l.add(n, "%s: holds a password in clear; an inventory is not a secret store: write ${{ env.NAME }} and set NAME in the environment (a Kubernetes Secret), or leave the password out and give it by PGPASSFILE, a passfile= setting or PGPASSWORD", what)
				ok = false
				break
			}
		}
	}
	walk(n)
	env := slices.Sorted(maps.Keys(seen))
	return env, ok
}

// envRefs returns the variables s references as ${{ env.NAME }}, and the
// first ${{ }} that is anything else ("" when none is).
func envRefs(s string) (names []string, bad string) {
	for rest := s; ; {
		i := strings.Index(rest, "${{")
		if i < 0 {
			return names, ""
		}
		rest = rest[i:]
		loc := envRefRE.FindStringSubmatchIndex(rest)
		if loc == nil || loc[0] != 0 {
			end := strings.Index(rest, "}}")
			if end < 0 {
				return names, "an unclosed ${{"
			}
			return names, rest[:end+2]
		}
		names = append(names, rest[loc[2]:loc[3]])
		rest = rest[loc[1]:]
	}
}

// Env returns every environment variable the target's params reference,
// sorted.
func (t *Target) Env() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range t.Params {
		for _, e := range v.Env {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Resolve returns the target's param values with every ${{ env.NAME }}
// replaced by the variable's value from lookup (os.LookupEnv). A variable
// that is unset or empty is an error at the value's position. The nodes
// keep their positions in the inventory, for the errors of
// runner.ResolveParams.
func (t *Target) Resolve(lookup func(string) (string, bool)) (map[string]*yaml.Node, error) {
	out := make(map[string]*yaml.Node, len(t.Params))
	var errs runner.PlanErrors
	for _, name := range slices.Sorted(maps.Keys(t.Params)) {
		v := t.Params[name]
		if len(v.Env) == 0 {
			out[name] = v.Node
			continue
		}
		n, err := substitute(v.Node, lookup)
		if err != nil {
			errs = append(errs, &runner.PlanError{Pos: v.Pos, Msg: fmt.Sprintf("target %q: param %q: %v", t.Name, name, err)})
			continue
		}
		out[name] = n
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// substitute copies n with the environment references of its strings
// replaced.
func substitute(n *yaml.Node, lookup func(string) (string, bool)) (*yaml.Node, error) {
	cp := *n
	if n.Kind != yaml.ScalarNode {
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			sc, err := substitute(c, lookup)
			if err != nil {
				return nil, err
			}
			cp.Content[i] = sc
		}
		return &cp, nil
	}
	var missing []string
	cp.Value = envRefRE.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := envRefRE.FindStringSubmatch(ref)[1]
		val, ok := lookup(name)
		if !ok || val == "" {
			missing = append(missing, name)
		}
		return val
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable %s is not set or empty (the inventory reads it with ${{ env.%s }})", missing[0], missing[0])
	}
	if cp.Value != n.Value {
		// What the environment gave is text, whatever it looks like.
		cp.Tag, cp.Style = "!!str", 0
	}
	return &cp, nil
}
