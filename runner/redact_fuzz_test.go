package runner

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"html"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// encodings are the ways a secret reaches output, written here
// independently of secretForms, from the standard library.
var encodings = map[string]func(string) string{
	"raw":          func(s string) string { return s },
	"%q":           strconv.Quote,
	"%+q":          strconv.QuoteToASCII,
	"json":         func(s string) string { b, _ := json.Marshal(s); return string(b) },
	"json no html": jsonNoHTML,
	"%q of %q":     func(s string) string { return strconv.Quote(strconv.Quote(s)) },
	"json of %q":   func(s string) string { b, _ := json.Marshal(strconv.Quote(s)); return string(b) },
	"html":         html.EscapeString,
	"html of %q":   func(s string) string { return html.EscapeString(strconv.Quote(s)) },
	"xml":          func(s string) string { var b bytes.Buffer; _ = xml.EscapeText(&b, []byte(s)); return b.String() },
	"url query":    url.QueryEscape,
	"url path":     url.PathEscape,
	"url userinfo": func(s string) string { return url.UserPassword("u", s).String() },
}

func jsonNoHTML(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// inner is an encoded secret without the quotes around it, the part that
// shows when the secret is a piece of a longer quoted string.
func inner(enc string) string {
	if len(enc) >= 2 && enc[0] == '"' && enc[len(enc)-1] == '"' {
		return enc[1 : len(enc)-1]
	}
	return enc
}

// FuzzRedact puts a random secret, encoded each way output encodes text,
// inside random text: the redacted text never contains the secret's
// encoding. A secret shorter than 12 characters is masked as a whole word,
// so it goes in between spaces.
func FuzzRedact(f *testing.F) {
	f.Add("Sup3r\"S3cr3t\\pw", "before ", " after")
	f.Add("hunter2-secret-value", "token=", "\n")
	f.Add("p@ss/w?rd é<&>'", `{"dsn":"postgres://u:`, `@h/db"}`)
	f.Add("ucceeded", "step succeeded: ", "")
	f.Add("*abcdef", "x***", "abcdef")
	f.Add("line1\nline2\ttab", "%3A", "\\n")
	f.Add("\xff\xfe binary \x00", "a", "b")
	f.Fuzz(func(t *testing.T, secret, prefix, suffix string) {
		if utf8.RuneCountInString(secret) < MinSecretLen {
			return
		}
		r := NewRedactor(secret)
		sep := ""
		if utf8.RuneCountInString(secret) < wordSecretLen {
			sep = " "
		}
		for name, encode := range encodings {
			enc := encode(secret)
			out := r.Redact(prefix + sep + enc + sep + suffix)
			if leak := sep + inner(enc) + sep; strings.Contains(out, leak) {
				t.Fatalf("%s form of %q survives in %q", name, secret, out)
			}
		}
	})
}
