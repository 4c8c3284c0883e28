package runner

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Mask replaces a secret wherever the runner redacts text.
const Mask = "***"

// MinSecretLen is the length below which a value is too short to be a
// secret sluice can mask: masking "x" would turn "executed" into
// "e***ecuted" and give the secret away. A secret param shorter than this
// is refused; such a value from the environment is not masked, with a
// warning.
const MinSecretLen = 6

// wordSecretLen is the length below which a secret is masked only where it
// stands as a whole word, not inside a longer one ("succeeded" keeps its
// letters when the secret is "ucceeded"). A longer string inside a word is
// no accident, and is masked anywhere.
const wordSecretLen = 12

// Redactor replaces known secret values with Mask: each value as it is and
// in every encoded form output gives it (see secretForms). It also masks
// the passwords of URLs and connection strings, known or not. A nil
// *Redactor redacts nothing.
type Redactor struct {
	patterns []pattern // every form of every secret, unique
	maxLen   int       // length of the longest pattern
}

// pattern is one form of one secret.
type pattern struct {
	text string
	word bool // masked only as a whole word (the secret is short)
}

// NewRedactor returns a Redactor for secrets. Empty values are ignored;
// where occurrences of two secrets overlap, both are masked whole. Secrets
// shorter than 12 characters are masked only as whole words.
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
			r.patterns = append(r.patterns, pattern{text: f, word: utf8.RuneCountInString(s) < wordSecretLen})
			r.maxLen = max(r.maxLen, len(f))
		}
	}
	return r
}

// Redact returns s with every occurrence of every secret, in any of its
// forms, replaced by Mask, and every password that s holds in a URL or
// connection string (see credentialSpans).
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	// A mask next to text can form a secret anew (secret "*abc" from
	// "***" + "abc"): redact again until nothing changes, a few times at
	// most.
	for range maxRedactPasses {
		out := r.redactOnce(s)
		if out == s {
			break
		}
		s = out
	}
	return s
}

const maxRedactPasses = 4

func (r *Redactor) redactOnce(s string) string {
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
	word       bool // masked only as a whole word
}

// find returns the stretches to mask, in order and not overlapping. Where
// occurrences of two secrets overlap, their union is masked, so that no part
// of either shows.
func (r *Redactor) find(s string) []span {
	var cands []span
	words := false
	for _, p := range r.patterns {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], p.text)
			if i < 0 {
				break
			}
			cands = append(cands, span{from + i, from + i + len(p.text), p.word})
			words = words || p.word
			from += i + 1
		}
	}
	sortSpans(cands)
	if words {
		cands = wholeWords(s, cands)
	}
	creds := credentialSpans(s)
	for _, c := range creds {
		cands = append(cands, span{start: c.start, end: c.end})
	}
	if len(creds) > 0 {
		sortSpans(cands)
	}
	return union(cands, false)
}

// sortSpans sorts spans by start, the longest first at one start.
func sortSpans(spans []span) {
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end > spans[j].end
	})
}

// maxWordRounds bounds wholeWords on contrived input (a secret repeated
// thousands of times inside one word); past it, every occurrence is masked,
// which can only mask more.
const maxWordRounds = 4

// wholeWords drops the occurrences of short secrets that sit inside a longer
// word. An occurrence's edge is a word boundary when the character beyond it
// is not a letter, digit or '_', when an escape sequence (\n, %3A, \u00e9)
// ends there, or when another kept occurrence touches it: a secret repeated
// ("s3cr3ts3cr3t") is masked, the same secret inside "s3cr3tX" is not.
func wholeWords(s string, all []span) []span {
	cands := all
	for round := 0; round < maxWordRounds; round++ {
		covered := union(cands, true)
		kept := cands[:0:0]
		for _, c := range cands {
			if !c.word || (leftBoundary(s, c, covered) && rightBoundary(s, c, covered)) {
				kept = append(kept, c)
			}
		}
		if len(kept) == len(cands) {
			return kept
		}
		cands = kept
	}
	return all
}

func leftBoundary(s string, c span, covered []span) bool {
	p := c.start
	return p == 0 || !isWordByte(s[p]) || !isWordByte(s[p-1]) || escapeEndsAt(s, p) || isCovered(covered, p-1)
}

func rightBoundary(s string, c span, covered []span) bool {
	p := c.end
	return p == len(s) || !isWordByte(s[p-1]) || !isWordByte(s[p]) || isCovered(covered, p)
}

// isCovered reports whether position i lies in one of spans (sorted, apart).
func isCovered(spans []span, i int) bool {
	k := sort.Search(len(spans), func(k int) bool { return spans[k].end > i })
	return k < len(spans) && spans[k].start <= i
}

// isWordByte reports whether b belongs to a word: an ASCII letter, digit or
// '_', or a byte of a multi-byte UTF-8 character.
func isWordByte(b byte) bool {
	return b == '_' || b >= 0x80 || ('0' <= b && b <= '9') || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}

// escapeEndsAt reports whether an escape sequence of Go, JSON or URLs ends
// just before s[p]: \n and the like, \xFF, \u00e9, \U0001F600, \101, %3A.
func escapeEndsAt(s string, p int) bool {
	hexRun := func(from, n int) bool {
		if from < 0 {
			return false
		}
		for i := from; i < from+n; i++ {
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
				return false
			}
		}
		return true
	}
	switch {
	case p >= 2 && s[p-2] == '\\' && strings.IndexByte("abfnrtv", s[p-1]) >= 0:
		return true
	case p >= 3 && s[p-3] == '%' && hexRun(p-2, 2):
		return true
	case p >= 4 && s[p-4] == '\\' && s[p-3] == 'x' && hexRun(p-2, 2):
		return true
	case p >= 4 && s[p-4] == '\\' && strings.Trim(s[p-3:p], "01234567") == "":
		return true
	case p >= 6 && s[p-6] == '\\' && s[p-5] == 'u' && hexRun(p-4, 4):
		return true
	case p >= 10 && s[p-10] == '\\' && s[p-9] == 'U' && hexRun(p-8, 8):
		return true
	}
	return false
}

// union merges overlapping spans (sorted by start), and touching ones too
// when touching is set; otherwise touching spans stay apart, each masked on
// its own.
func union(spans []span, touching bool) []span {
	if len(spans) == 0 {
		return nil
	}
	out := []span{spans[0]}
	for _, c := range spans[1:] {
		last := &out[len(out)-1]
		if c.start < last.end || (touching && c.start == last.end) {
			last.end = max(last.end, c.end)
			continue
		}
		out = append(out, c)
	}
	return out
}

// redactValue returns v with secrets masked in every string and number it
// holds (in lists and maps too), keeping its shape for formatting. Values of
// other types are returned as they are: formatting them does not quote.
func (r *Redactor) redactValue(v any) any {
	if r == nil || len(r.patterns) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.Redact(x)
	case int, int64, int32, uint, uint64, uint32, float64, float32:
		return r.redactNumber(x)
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

// redactNumber returns Mask for a number whose text holds a secret (a
// secret int param, say), else the number as it is: reports keep numbers
// as numbers, so a mask cannot replace only a part of one.
func (r *Redactor) redactNumber(v any) any {
	if s := formatValue(v, false); r.Redact(s) != s {
		return Mask
	}
	return v
}
