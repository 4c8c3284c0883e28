package runner

import (
	"reflect"
	"time"
)

// MergePartOutputs makes one step's outputs over the parts of a stream from
// each part's: counts (integers) and durations are summed, a boolean is
// true when it is true for every part, lists are joined without repeats,
// and any other value is kept when every part has the same, else left
// out. An output some part lacks is left out. Step types whose outputs
// need more (a ratio) implement PartsMerger and may start from this.
func MergePartOutputs(parts []Outputs) Outputs {
	if len(parts) == 0 {
		return Outputs{}
	}
	out := Outputs{}
	for k, first := range parts[0] {
		vals := make([]any, 0, len(parts))
		for _, p := range parts {
			v, ok := p[k]
			if !ok {
				break
			}
			vals = append(vals, v)
		}
		if len(vals) < len(parts) {
			continue
		}
		if v, ok := mergeValues(first, vals); ok {
			out[k] = v
		}
	}
	return out
}

// mergeValues merges one output's values, all parts' (see MergePartOutputs).
func mergeValues(first any, vals []any) (any, bool) {
	switch first.(type) {
	case int64, int:
		var sum int64
		for _, v := range vals {
			n, ok := intValue(v)
			if !ok {
				return nil, false
			}
			sum += n
		}
		return sum, true
	case time.Duration:
		var sum time.Duration
		for _, v := range vals {
			d, ok := v.(time.Duration)
			if !ok {
				return nil, false
			}
			sum += d
		}
		return sum, true
	case bool:
		all := true
		for _, v := range vals {
			b, ok := v.(bool)
			if !ok {
				return nil, false
			}
			all = all && b
		}
		return all, true
	case []any:
		var joined []any
		for _, v := range vals {
			list, ok := v.([]any)
			if !ok {
				return nil, false
			}
			for _, e := range list {
				if !containsValue(joined, e) {
					joined = append(joined, e)
				}
			}
		}
		if joined == nil {
			joined = []any{}
		}
		return joined, true
	}
	for _, v := range vals[1:] {
		if !reflect.DeepEqual(v, first) {
			return nil, false
		}
	}
	return first, true
}

func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if reflect.DeepEqual(e, v) {
			return true
		}
	}
	return false
}
