package runner

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"html"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	r := NewRedactor("pass", "", "password123", "s3cr3t", "pass")
	cases := map[string]string{
		"user:password123@host": "user:***@host",
		"pass then pass":        "*** then ***",
		"s3cr3ts3cr3t":          "******",
		"nothing here":          "nothing here",
		"":                      "",
	}
	for in, want := range cases {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	var none *Redactor
	if got := none.Redact("pass"); got != "pass" {
		t.Errorf("nil redactor changed %q", got)
	}
	if got := NewRedactor().Redact("pass"); got != "pass" {
		t.Errorf("empty redactor changed %q", got)
	}
}

func TestRedactWriterSplitWrites(t *testing.T) {
	var out strings.Builder
	w := NewRedactor("hunter2-secret").Writer(&out)
	for _, chunk := range []string{"login with hun", "ter2-", "secret ok\nnext ", "line hunter2-se", "cret\n", "tail hunter2-secret"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "login with *** ok\nnext line ***\n"; got != want {
		t.Errorf("after complete lines: %q, want %q", got, want)
	}
	if err := w.(interface{ Flush() error }).Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "login with *** ok\nnext line ***\ntail ***"; got != want {
		t.Errorf("after Flush: %q, want %q", got, want)
	}
}

// TestRedactWriterLongLine writes a line longer than the writer holds back,
// with a secret across the point where it starts writing.
func TestRedactWriterLongLine(t *testing.T) {
	secret := "topsecretvalue"
	var out strings.Builder
	w := NewRedactor(secret).Writer(&out)
	pad := strings.Repeat("x", maxPending-5)
	for _, chunk := range []string{pad, secret[:8], secret[8:], strings.Repeat("y", maxPending), "\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	got := out.String()
	if strings.Contains(got, secret) || strings.Contains(got, secret[:8]) {
		t.Errorf("secret or its start leaked in a long line")
	}
	if want := pad + Mask + strings.Repeat("y", maxPending) + "\n"; got != want {
		t.Errorf("long line: got %d bytes, want %d", len(got), len(want))
	}
}

// TestRedactQuotedSecret is the finding "quoted secrets escape redaction":
// a secret with quotes, backslashes and markup characters shows in output
// quoted, escaped or URL-encoded, and each of those forms must be masked.
func TestRedactQuotedSecret(t *testing.T) {
	secret := "Sup3r\"S3cr3t\\pw<&'+ /?é\n"
	r := NewRedactor(secret)
	jsonNoHTML := func(s string) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		return strings.TrimSpace(b.String())
	}
	jsonHTML := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	xmlText := func(s string) string { var b strings.Builder; _ = xml.EscapeText(&b, []byte(s)); return b.String() }
	forms := map[string]string{
		"raw":                secret,
		"%q":                 strconv.Quote(secret),
		"%+q":                strconv.QuoteToASCII(secret),
		"json":               jsonHTML(secret),
		"json no html":       jsonNoHTML(secret),
		"json of %q":         jsonHTML(strconv.Quote(secret)),
		"%q of %q":           strconv.Quote(strconv.Quote(secret)),
		"html":               html.EscapeString(secret),
		"html/template":      htmltemplate.HTMLEscapeString(secret),
		"html of %q":         html.EscapeString(strconv.Quote(secret)),
		"xml":                xmlText(secret),
		"xml of json":        xmlText(jsonHTML(secret)),
		"url query":          url.QueryEscape(secret),
		"url path":           url.PathEscape(secret),
		"url userinfo":       url.UserPassword("app", secret).String(),
		"html/template attr": htmlAttr(t, secret),
	}
	for name, f := range forms {
		got := r.Redact("before " + f + " after")
		if strings.Contains(got, "S3cr3t") {
			t.Errorf("%s form leaks: %q", name, got)
		}
		if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
			t.Errorf("%s form: text around the secret changed: %q", name, got)
		}
	}
}

// htmlAttr renders s as html/template does in a quoted attribute.
func htmlAttr(t *testing.T, s string) string {
	var b strings.Builder
	tmpl := htmltemplate.Must(htmltemplate.New("a").Parse(`<p title="{{.}}">{{.}}</p>`))
	if err := tmpl.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRedactShortSecret is the finding "short secrets mangle output": a
// short secret is masked only as a whole word, so ordinary words keep their
// letters (and do not give the secret away), while the secret itself, next
// to punctuation or an escape sequence, is still masked.
func TestRedactShortSecret(t *testing.T) {
	r := NewRedactor("x", "ucceeded", "s3cr3t")
	cases := map[string]string{
		"executed .sluice/runs":      "executed .sluice/runs",
		"step succeeded":             "step succeeded",
		"pw=x":                       "pw=***",
		"pw=ucceeded\n":              "pw=***\n",
		`"line\nucceeded"`:           `"line\n***"`,
		`a\tucceeded\u00e9s3cr3t`:    `a\t***\u00e9***`,
		"dsn%3Aucceeded%40host":      "dsn%3A***%40host",
		"s3cr3ts3cr3t":               "******",
		"s3cr3ts3cr3tX":              "s3cr3ts3cr3tX",
		"Xs3cr3t and s3cr3t_ s3cr3t": "Xs3cr3t and s3cr3t_ ***",
		"é-s3cr3t-é":                 "é-***-é",
		"ués3cr3t":                   "ués3cr3t",
	}
	for in, want := range cases {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	// A secret of wordSecretLen characters or more is masked anywhere.
	long := NewRedactor("abcdefghijkl")
	if got := long.Redact("xxabcdefghijklyy"); got != "xx***yy" {
		t.Errorf("long secret inside a word: %q", got)
	}
}

// TestRedactWordRoundsBounded feeds a short secret repeated thousands of
// times inside one word: the answer comes quickly, and no partial secret
// is left next to a mask.
func TestRedactWordRoundsBounded(t *testing.T) {
	r := NewRedactor("abcabc")
	in := strings.Repeat("abc", 20001) + "X"
	got := r.Redact(in)
	if strings.Contains(got, Mask) && strings.Contains(strings.ReplaceAll(got, Mask, ""), "abcabc") {
		t.Errorf("partial masking left the secret: %.60q", got)
	}
}

func TestSecretParamTooShort(t *testing.T) {
	src := strings.Replace(paramsPlan, "hosts: {type: list}", "hosts: {type: list, secret: true}", 1)
	p, err := Load("params.yaml", []byte(src), ltRegistry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ResolveParams(p, ParamSources{Flags: map[string]string{"db": "postgres://app@db/app", "hosts": "long-host-name,h2"}})
	if err == nil || !strings.Contains(err.Error(), `param "hosts": a secret must be at least 6 characters long (this one has 2)`) || strings.Contains(err.Error(), "h2") {
		t.Errorf("err = %v", err)
	}
	_, err = Run(context.Background(), p, RunOptions{Params: map[string]any{"db": "pw"}, StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `param "db": a secret must be at least 6`) {
		t.Errorf("Run with a short secret: err = %v", err)
	}
}

// TestRedactMaskCannotFormSecret: a secret that starts with '*' can be
// formed anew by a mask and the text after it; it must not survive.
func TestRedactMaskCannotFormSecret(t *testing.T) {
	secret := "*abcdefghijklm"
	got := NewRedactor(secret).Redact(secret + "abcdefghijklm")
	if strings.Contains(got, secret) {
		t.Errorf("Redact left the secret: %q", got)
	}
}
