package runner

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ParamSources are the places param values come from, in order of
// precedence: Flags (--param name=value; name.key=value sets one entry of
// a map param), then Target (an inventory target's values), then Environ
// entries SLUICE_PARAM_<NAME> (name upper-cased, '-' as '_'), then File (a
// YAML mapping of name to value), then each param's default.
type ParamSources struct {
	Flags map[string]string
	// Target holds the values an inventory gives one target (its own over
	// the inventory's defaults), as YAML nodes whose positions are in
	// TargetFile. Nil without an inventory.
	Target     map[string]*yaml.Node
	TargetFile string
	File       string   // empty: none
	Environ    []string // os.Environ() form: KEY=VALUE
}

// ParamEnvName returns the environment variable that sets param name.
func ParamEnvName(name string) string {
	return "SLUICE_PARAM_" + strings.ReplaceAll(strings.ToUpper(name), "-", "_")
}

// ResolveParams returns the value of every param of p, converted to its
// type. Params without a value or default are nil. Errors name the param
// and where the bad value came from; a secret param's value never appears
// in them.
func ResolveParams(p *Plan, src ParamSources) (map[string]any, error) {
	var errs []error
	specs := map[string]*ParamSpec{}
	names := make([]string, 0, len(p.Params))
	for _, ps := range p.Params {
		specs[ps.Name] = ps
		names = append(names, ps.Name)
	}
	flags, entries := map[string]string{}, map[string]map[string]string{}
	for _, name := range sortedKeys(src.Flags) {
		base, key, dotted := strings.Cut(name, ".")
		switch {
		case specs[name] != nil:
			flags[name] = src.Flags[name]
		case dotted && specs[base] != nil && specs[base].Type == ParamMap && key != "":
			if entries[base] == nil {
				entries[base] = map[string]string{}
			}
			entries[base][key] = src.Flags[name]
		case dotted && specs[base] != nil:
			errs = append(errs, fmt.Errorf("--param %s: param %q is %s, not a map: set it with --param %s=VALUE", name, base, paramTypeText(specs[base].Type), base))
		default:
			errs = append(errs, fmt.Errorf("--param %s: plan %q has no such param%s", name, p.Name, Suggest(name, names)))
		}
	}
	for _, name := range sortedKeys(src.Target) {
		if specs[name] == nil {
			n := src.Target[name]
			errs = append(errs, fmt.Errorf("%s:%d:%d: plan %q has no param %q%s", src.TargetFile, n.Line, n.Column, p.Name, name, Suggest(name, names)))
		}
	}
	src.Flags = flags
	fileVals, err := readParamsFile(src.File, specs, names)
	if err != nil {
		errs = append(errs, err)
	}
	environ := map[string]string{}
	for _, kv := range src.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			environ[k] = v
		}
	}
	values := make(map[string]any, len(p.Params))
	for _, ps := range p.Params {
		var (
			v   any
			err error
		)
		_, whole := src.Flags[ps.Name]
		switch {
		case entries[ps.Name] != nil && !whole:
			v = withEntries(nil, entries[ps.Name], false)
		default:
			v, err = resolveParam(ps, src, environ, fileVals)
			if err == nil && entries[ps.Name] != nil {
				v = withEntries(v, entries[ps.Name], true)
			}
		}
		if err == nil && ps.Secret {
			err = checkSecretLength(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("param %q: %w", ps.Name, err))
			continue
		}
		values[ps.Name] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return values, nil
}

func resolveParam(ps *ParamSpec, src ParamSources, environ map[string]string, fileVals map[string]*yaml.Node) (any, error) {
	show := func(v string) string {
		if ps.Secret {
			return "<secret>"
		}
		return v
	}
	if s, ok := src.Flags[ps.Name]; ok {
		v, err := paramFromString(ps.Type, s)
		if err != nil {
			return nil, fmt.Errorf("--param %s=%s: %w", ps.Name, show(s), err)
		}
		return v, nil
	}
	if n, ok := src.Target[ps.Name]; ok {
		v, err := ParamValue(ps, n)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w", src.TargetFile, n.Line, n.Column, err)
		}
		return v, nil
	}
	envName := ParamEnvName(ps.Name)
	if s, ok := environ[envName]; ok {
		v, err := paramFromString(ps.Type, s)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", envName, show(s), err)
		}
		return v, nil
	}
	if n, ok := fileVals[ps.Name]; ok {
		v, err := paramFromNode(ps.Type, n)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w", src.File, n.Line, n.Column, err)
		}
		return v, nil
	}
	if ps.Default != nil {
		return ps.Default, nil
	}
	if ps.Required {
		return nil, fmt.Errorf("required (set --param %s=... or %s)", ps.Name, envName)
	}
	return nil, nil
}

// ParamValue converts a YAML value written for param ps (in a params file
// or an inventory) to the param's type. Its error never quotes the value.
func ParamValue(ps *ParamSpec, n *yaml.Node) (any, error) {
	return paramFromNode(ps.Type, n)
}

// withEntries returns map param value v with the --param NAME.KEY=VALUE
// entries set. The entries replace the value from the environment, a params
// file or the default (so that naming two databases on the command line
// backs up those two, not the default ones too); they add to a whole map
// given with --param NAME={...} (whole).
func withEntries(v any, entries map[string]string, whole bool) any {
	out := map[string]any{}
	if m, ok := v.(map[string]any); ok && whole {
		for k, e := range m {
			out[k] = e
		}
	}
	for k, e := range entries {
		out[k] = e
	}
	return out
}

// readParamsFile reads a YAML mapping of param values.
func readParamsFile(path string, specs map[string]*ParamSpec, names []string) (map[string]*yaml.Node, error) {
	out := map[string]*yaml.Node{}
	if path == "" {
		return out, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading params file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading params file %s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("params file %s: want a mapping of param names to values", path)
	}
	var errs []error
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if specs[k.Value] == nil {
			errs = append(errs, fmt.Errorf("%s:%d:%d: no such param %q%s", path, k.Line, k.Column, k.Value, Suggest(k.Value, names)))
			continue
		}
		out[k.Value] = m.Content[i+1]
	}
	return out, errors.Join(errs...)
}

// SecretValues returns the string forms of the secret params' values (and
// of the elements of secret lists), for redaction. Empty values are left
// out.
func SecretValues(p *Plan, values map[string]any) []string {
	var out []string
	add := func(v any) {
		if s := formatValue(v, false); s != "" {
			out = append(out, s)
		}
	}
	for _, ps := range p.Params {
		if !ps.Secret {
			continue
		}
		v := values[ps.Name]
		for _, e := range paramElems(v) {
			add(e)
		}
		if _, isList := v.([]any); isList {
			add(v)
		}
	}
	sort.Strings(out)
	return out
}

// checkSecretLength refuses a secret param's value (or an element of a
// secret list) too short to be masked without giving it away.
func checkSecretLength(v any) error {
	for _, e := range paramElems(v) {
		s := formatValue(e, false)
		if n := utf8.RuneCountInString(s); n > 0 && n < MinSecretLen {
			return fmt.Errorf("a secret must be at least %d characters long (this one has %d): a shorter one cannot be masked in output without giving it away; use a longer secret", MinSecretLen, n)
		}
	}
	return nil
}

// paramElems returns the values a param's value is made of: the elements
// of a list, the values of a map, else the value itself.
func paramElems(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case map[string]any:
		out := make([]any, 0, len(x))
		for _, k := range sortedKeys(x) {
			out = append(out, x[k])
		}
		return out
	}
	return []any{v}
}

// checkSecretParams applies checkSecretLength to every secret param of p.
func checkSecretParams(p *Plan, values map[string]any) error {
	for _, ps := range p.Params {
		if !ps.Secret {
			continue
		}
		if err := checkSecretLength(values[ps.Name]); err != nil {
			return fmt.Errorf("param %q: %w", ps.Name, err)
		}
	}
	return nil
}
