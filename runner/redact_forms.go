package runner

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"html"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
)

// secretForms returns the ways secret s can show in output: as it is;
// quoted as Go (%q, also ASCII-only) and JSON (also with <, > and &
// escaped) quote it, once or twice (an error holding a %q value, logged as
// JSON); each of those escaped for HTML (html, text/template and
// html/template) and XML (attributes and text); and URL-encoded (query,
// path and user info). Quotes around a quoted form are left off: the
// secret is often a part of a longer quoted string.
func secretForms(s string) []string {
	quoters := []func(string) string{goQuote, goQuoteASCII, jsonQuoteHTML, jsonQuote}
	quoted := []string{s}
	for _, q := range quoters {
		quoted = append(quoted, q(s))
	}
	for _, once := range quoted[1:] {
		for _, q := range quoters {
			quoted = append(quoted, q(once))
		}
	}
	var out []string
	for _, q := range quoted {
		out = append(out, q,
			html.EscapeString(q),
			texttemplate.HTMLEscapeString(q),
			strings.ReplaceAll(texttemplate.HTMLEscapeString(q), "+", "&#43;"), // html/template
			xmlEscape(q, true),
			xmlEscape(q, false),
		)
	}
	return append(out, url.QueryEscape(s), url.PathEscape(s), userinfoEscape(s))
}

func goQuote(s string) string      { return unquote(strconv.Quote(s)) }
func goQuoteASCII(s string) string { return unquote(strconv.QuoteToASCII(s)) }

// jsonQuoteHTML quotes s as encoding/json does by default.
func jsonQuoteHTML(s string) string {
	b, _ := json.Marshal(s)
	return unquote(string(b))
}

// jsonQuote quotes s as a JSON encoder with SetEscapeHTML(false) does.
func jsonQuote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return unquote(strings.TrimSuffix(buf.String(), "\n"))
}

func unquote(q string) string {
	if len(q) >= 2 {
		return q[1 : len(q)-1]
	}
	return q
}

// xmlEscape escapes s as encoding/xml does in attributes (newlines
// escaped) or in text (newlines kept).
func xmlEscape(s string, attr bool) string {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s))
	if attr {
		return buf.String()
	}
	return strings.ReplaceAll(buf.String(), "&#xA;", "\n")
}

// userinfoEscape escapes s as net/url does for a password in a URL.
func userinfoEscape(s string) string {
	return strings.TrimPrefix(url.UserPassword("", s).String(), ":")
}
