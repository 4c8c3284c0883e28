package steps

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// The Outcome functions of the step definitions read outputs through these
// helpers: an output that is missing or of another type reads as zero, so
// that a one-line summary never fails.

func outStr(o runner.Outputs, k string) string {
	s, _ := o[k].(string)
	return s
}

func outBool(o runner.Outputs, k string) bool {
	b, _ := o[k].(bool)
	return b
}

func outInt(o runner.Outputs, k string) int64 {
	switch v := o[k].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	}
	return 0
}

func outFloat(o runner.Outputs, k string) float64 {
	switch v := o[k].(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return 0
}

// plural returns "s" unless n is 1.
func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// mapText renders a map output as k=v pairs sorted by key.
func mapText(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ", ")
}
