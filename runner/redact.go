package runner

import (
	"sort"
	"strings"
)

// Mask replaces a secret wherever the runner redacts text.
const Mask = "***"

// Redactor replaces known secret values with Mask: each value as it is and
// in every encoded form output gives it (see secretForms). A nil *Redactor
// redacts nothing.
type Redactor struct {
	patterns []pattern // every form of every secret, longest first, unique
	maxLen   int       // length of the longest pattern
}

// pattern is one form of one secret.
type pattern struct {
	text string
}

// NewRedactor returns a Redactor for secrets. Empty values are ignored;
// when one secret contains another, the longer one wins.
func NewRedactor(secrets ...string) *Redactor {
	seen := map[string]bool{}
	r := &Redactor{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, f := range secretForms(s) {
			if f == "" || seen[f] {
				continue
			}
			seen[f] = true
			r.patterns = append(r.patterns, pattern{text: f})
			r.maxLen = max(r.maxLen, len(f))
		}
	}
	sort.SliceStable(r.patterns, func(i, j int) bool { return len(r.patterns[i].text) > len(r.patterns[j].text) })
	return r
}

// Redact returns s with every occurrence of every secret, in any of its
// forms, replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if r == nil || len(r.patterns) == 0 || s == "" {
		return s
	}
	spans := r.find(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	at := 0
	for _, sp := range spans {
		b.WriteString(s[at:sp.start])
		b.WriteString(Mask)
		at = sp.end
	}
	b.WriteString(s[at:])
	return b.String()
}

// span is an occurrence of a pattern in a text: [start, end).
type span struct {
	start, end int
}

// find returns the stretches to mask, in order and not overlapping. Where
// occurrences of two secrets overlap, their union is masked, so that no part
// of either shows.
func (r *Redactor) find(s string) []span {
	var cands []span
	for _, p := range r.patterns {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], p.text)
			if i < 0 {
				break
			}
			cands = append(cands, span{from + i, from + i + len(p.text)})
			from += i + 1
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].start != cands[j].start {
			return cands[i].start < cands[j].start
		}
		return cands[i].end > cands[j].end
	})
	return union(cands)
}

// union merges overlapping spans (sorted by start); touching spans stay
// apart, each masked on its own.
func union(spans []span) []span {
	out := []span{spans[0]}
	for _, c := range spans[1:] {
		last := &out[len(out)-1]
		if c.start < last.end {
			last.end = max(last.end, c.end)
			continue
		}
		out = append(out, c)
	}
	return out
}

// redactValue returns v with secrets masked in every string it holds (in
// lists and maps too), keeping its shape for formatting. Values of other
// types are returned as they are: formatting them does not quote.
func (r *Redactor) redactValue(v any) any {
	if r == nil || len(r.patterns) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.Redact(x)
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.Redact(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.redactValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.Redact(k)] = r.redactValue(e)
		}
		return out
	case Outputs:
		return r.redactValue(map[string]any(x))
	case error:
		return r.Redact(x.Error())
	}
	return v
}
