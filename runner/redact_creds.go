package runner

import (
	"strings"
)

// credSpan is where a password sits in a text: [start, end).
type credSpan struct {
	start, end int
	url        bool // URL user info (percent-encoded); else a password= value
}

// credentialSpans finds passwords by their syntax, whether or not the
// Redactor knows them: the password of URL user info
// (scheme://user:PASSWORD@host, also when the password holds '@', '/' or
// '?' unescaped), a password=VALUE setting (connection strings, URL
// queries, PGPASSWORD=... in an environment dump) and a JSON
// "password": "VALUE" member.
func credentialSpans(s string) []credSpan {
	return append(urlPasswordSpans(s), settingPasswordSpans(s)...)
}

func urlPasswordSpans(s string) []credSpan {
	var out []credSpan
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			return out
		}
		i += from
		from = i + 3
		if !schemeEndsAt(s, i) {
			continue
		}
		auth := i + 3
		tok := s[auth:tokenEnd(s, auth)]
		colon := strings.IndexByte(tok, ':')
		if colon < 0 || strings.ContainsAny(tok[:colon], "/?#@") {
			continue
		}
		first := strings.IndexByte(tok[colon+1:], '@')
		if first < 0 {
			continue
		}
		first += colon + 1
		// The password runs to the last '@' of the authority: before the
		// first '/', '?' or '#' that follows an '@'.
		stop := len(tok)
		if k := strings.IndexAny(tok[first:], "/?#"); k >= 0 {
			stop = first + k
		}
		last := strings.LastIndexByte(tok[:stop], '@')
		out = append(out, credSpan{auth + colon + 1, auth + last, true})
		from = auth + last
	}
}

// schemeEndsAt reports whether a URL scheme (a letter, then letters,
// digits, '+', '-', '.') ends at s[i].
func schemeEndsAt(s string, i int) bool {
	j := i
	for j > 0 && (isASCIIAlnum(s[j-1]) || strings.IndexByte("+-.", s[j-1]) >= 0) {
		j--
	}
	return j < i && isASCIILetter(s[j])
}

// tokenEnd returns where the URL or value starting at s[from] ends: at
// white space, a quote, '<', '>' or '`'. A backslash escapes the next
// byte, so that a quoted URL holding \" still reads as one.
func tokenEnd(s string, from int) int {
	for i := from; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c <= ' ' || strings.IndexByte("\"'<>`", c) >= 0:
			return i
		}
	}
	return len(s)
}

func settingPasswordSpans(s string) []credSpan {
	const key = "password"
	var out []credSpan
	for i := 0; i+len(key) <= len(s); i++ {
		if s[i]|0x20 != 'p' || !strings.EqualFold(s[i:i+len(key)], key) {
			continue
		}
		j := i + len(key)
		jsonKey := i > 0 && s[i-1] == '"' && j < len(s) && s[j] == '"'
		if jsonKey {
			j++
		}
		j = skipSpaces(s, j)
		if j >= len(s) || !(s[j] == '=' || (jsonKey && s[j] == ':')) {
			continue
		}
		j = skipSpaces(s, j+1)
		if j >= len(s) {
			break
		}
		start, end := j, 0
		switch s[j] {
		case '\'':
			end = closingQuote(s, j+1, '\'') + 1
		case '"':
			start = j + 1
			end = closingQuote(s, start, '"')
		default:
			end = tokenEnd(s, j)
			if k := strings.IndexByte(s[j:end], '&'); k >= 0 {
				end = j + k
			}
		}
		end = min(end, len(s))
		if end > start {
			out = append(out, credSpan{start: start, end: end})
		}
		i = end - 1
	}
	return out
}

// closingQuote returns the index of the unescaped quote q at or after from,
// or len(s).
func closingQuote(s string, from int, q byte) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return len(s)
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isASCIILetter(b byte) bool { return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') }
func isASCIIAlnum(b byte) bool  { return isASCIILetter(b) || ('0' <= b && b <= '9') }
