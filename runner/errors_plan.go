package runner

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// PlanError is one problem found while loading a plan.
type PlanError struct {
	Pos  Pos
	Step string // the step id, empty when the problem is not inside a step
	Msg  string
}

// Error formats the problem in compiler form:
// FILE:LINE:COL: step "id": message.
func (e *PlanError) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Step != "" {
		fmt.Fprintf(&b, "step %q: ", e.Step)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// String formats the position as FILE:LINE:COL.
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// PlanErrors is every problem found in a plan, sorted by position.
type PlanErrors []*PlanError

// Error joins the problems with newlines.
func (es PlanErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// As lets errors.As find the problems with a *PlanErrors target too.
func (es PlanErrors) As(target any) bool {
	if t, ok := target.(**PlanErrors); ok {
		cp := es
		*t = &cp
		return true
	}
	return false
}

// errList collects plan errors during loading.
type errList struct {
	file string
	errs PlanErrors
}

func (l *errList) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: l.file, Line: 1, Col: 1}
	}
	return Pos{File: l.file, Line: n.Line, Col: n.Column}
}

// add records a problem at node n, inside step (may be empty).
func (l *errList) add(n *yaml.Node, step, format string, args ...any) {
	l.errs = append(l.errs, &PlanError{Pos: l.pos(n), Step: step, Msg: fmt.Sprintf(format, args...)})
}

// result sorts and deduplicates the problems; nil when there are none.
func (l *errList) result() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i].Pos, l.errs[j].Pos
		// The plan's own problems first, then those of the plans it calls.
		if (a.File == l.file) != (b.File == l.file) {
			return a.File == l.file
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := l.errs[:0]
	seen := map[string]bool{}
	for _, e := range l.errs {
		if s := e.Error(); !seen[s] {
			seen[s] = true
			out = append(out, e)
		}
	}
	return out
}

// Suggest returns ` (did you mean "x"?)` for the candidate nearest to name,
// or "" when none is close enough.
func Suggest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(name), strings.ToLower(c))
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := min(max(len(name)/3, 1), 3)
	if bestD < 0 || bestD > limit || bestD >= len([]rune(name)) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// levenshtein returns the edit distance between a and b, counting a swap of
// two neighbouring letters as one edit (optimal string alignment), since
// that is the most common typo.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
