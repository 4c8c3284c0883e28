package render

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/runner"
)

// humanRate formats a throughput in bytes per second; "" when the duration
// is too short to mean anything.
func humanRate(n int64, seconds float64) string {
	if seconds < 0.001 || n <= 0 {
		return ""
	}
	return runner.FormatBytes(int64(float64(n)/seconds)) + "/s"
}

// humanSeconds formats a duration given in seconds: 850ms, 2.37s, 3m12s.
func humanSeconds(s float64) string {
	switch {
	case s <= 0:
		return "0s"
	case s < 1:
		return fmt.Sprintf("%.0fms", s*1000)
	case s < 60:
		return fmt.Sprintf("%.2fs", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%dh%02dm", int(s)/3600, int(s)%3600/60)
}

// utcStamp formats a time as every report shows it: 2006-01-02 15:04:05 UTC.
func utcStamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

// outputRow is one line of a generic outputs table.
type outputRow struct {
	Key   string
	Value string
}

// maxValueLen caps the length of one value in an outputs table; the full
// value stays in report.json.
const maxValueLen = 300

// flattenOutputs turns nested outputs into sorted dotted keys
// (targets.tls.p95 = 1.2), lists of scalars joined by commas.
func flattenOutputs(outputs map[string]any) []outputRow {
	var rows []outputRow
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				rows = append(rows, outputRow{prefix, "{}"})
			}
			for k, e := range x {
				walk(joinKey(prefix, k), e)
			}
		case []any:
			if allScalars(x) {
				parts := make([]string, len(x))
				for i, e := range x {
					parts[i] = Scalar(e)
				}
				rows = append(rows, outputRow{prefix, Clip(strings.Join(parts, ", "))})
				return
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		default:
			rows = append(rows, outputRow{prefix, Clip(Scalar(x))})
		}
	}
	for k, v := range outputs {
		walk(k, v)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	return rows
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func allScalars(xs []any) bool {
	for _, x := range xs {
		switch x.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// Scalar formats a JSON scalar of a report for people: integers without
// exponent, floats with up to 6 significant digits. Step types' report
// sections (runner.Definition.Section) format values with it too, so that a
// number reads the same everywhere on the page.
func Scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', 6, 64)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Clip cuts s to the length one value may take in a table of the report
// (the full value stays in report.json).
func Clip(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	cut := maxValueLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
