package pg

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// FuzzDSNSecrets puts random passwords into DSNs of every form libpq takes
// (URL user info percent-encoded and, where libpq allows, unencoded; URL
// password parameter; key=value) and checks, with pgconn as the reference
// parser: Redact never shows the password, SplitSecrets returns exactly the
// password pgconn reads and a rest in which pgconn finds none. dsn is also
// fuzzed raw: neither function may panic, and Redact hides what pgconn reads
// as the password. `go test` runs the seeds; `make fuzz` searches further.
func FuzzDSNSecrets(f *testing.F) {
	f.Setenv("PGPASSWORD", "")
	f.Setenv("PGPASSFILE", "/nonexistent")
	f.Setenv("PGSERVICEFILE", "/nonexistent")
	for _, pw := range []string{"Qx?7s3cr3t", `p@ss/w ord#`, `'"\`, "%41%", "a:b", "pässwörd", "x", "&=?#", " lead", "trail\\"} {
		f.Add(pw, "postgres://u:"+pw+"@h:5432/db?sslmode=disable")
	}
	f.Add("hunter2", "host=h password=hunter2 sslpassword='k ey'")
	f.Add("hunter2", "postgres://h/db?password=hunter2&password=second")
	// Passwords made of the mask's letter: found by `make fuzz` in CI.
	f.Add("xx", "host=h password=xxx")
	f.Fuzz(func(t *testing.T, pw, dsn string) {
		checkRaw(t, dsn)
		if pw == "" || strings.ContainsRune(pw, 0) {
			return
		}
		forms := map[string]func(string) string{
			"url user info": func(p string) string {
				return "postgres://app:" + pctEncode(p) + "@db.example.com:5432/app?sslmode=disable"
			},
			"url parameter": func(p string) string {
				return "postgresql://db.example.com:5432/app?user=app&password=" + pctEncode(p) + "&application_name=x"
			},
			"key=value": func(p string) string {
				return "host=db.example.com port=5432 user=app dbname=app password=" + quoteValue(p) + " sslmode=disable"
			},
		}
		if !strings.ContainsAny(pw, "@/% \t\n\r\v\f") && !strings.HasPrefix(pw, "?") {
			// libpq ends the user info at the first @ before any /, so the
			// review's "Qx?7s3cr3t" needs no encoding.
			forms["url user info unencoded"] = func(p string) string { return "postgres://app:" + p + "@db.example.com:5432/app" }
		}
		for name, form := range forms {
			dsn := form(pw)
			// A password that the DSN's other text contains (a "5" in the port)
			// cannot be checked by searching for it.
			visible := func(s string) bool {
				return shows(s, pw) && !strings.Contains(form("\x01"), pw)
			}
			if red := Redact(dsn); visible(red) || shows(red, pctEncode(pw)) && !strings.Contains(form("\x01"), pctEncode(pw)) {
				t.Fatalf("%s: Redact(%q) = %q shows the password", name, dsn, red)
			}
			rest, s, err := SplitSecrets(dsn)
			if err != nil {
				t.Fatalf("%s: SplitSecrets(%q): %v", name, dsn, err)
			}
			if s.Password != pw {
				t.Fatalf("%s: SplitSecrets(%q) password %q, want %q", name, dsn, s.Password, pw)
			}
			if visible(rest) {
				t.Fatalf("%s: SplitSecrets(%q) rest %q shows the password", name, dsn, rest)
			}
			cfg, err := pgconn.ParseConfig(rest)
			if err != nil || cfg.Password != "" || cfg.User != "app" || cfg.Database != "app" || cfg.Host != "db.example.com" {
				t.Fatalf("%s: rest %q parses as %+v, %v", name, rest, cfg, err)
			}
		}
	})
}

// checkRaw checks a DSN as the fuzzer wrote it: no panic, and what pgconn
// reads as the password never shows in Redact's result when the password
// appears only once in the DSN.
func checkRaw(t *testing.T, dsn string) {
	red := Redact(dsn)
	rest, s, err := SplitSecrets(dsn)
	cfg, perr := pgconn.ParseConfig(dsn)
	if perr != nil || len(cfg.Password) < 3 || strings.Count(dsn, cfg.Password) != 1 {
		return
	}
	if shows(red, cfg.Password) {
		t.Fatalf("Redact(%q) = %q shows the password %q", dsn, red, cfg.Password)
	}
	if err == nil && (strings.Contains(rest, cfg.Password) || s.Password != cfg.Password) {
		t.Fatalf("SplitSecrets(%q) = %q, %q; pgconn reads password %q", dsn, rest, s.Password, cfg.Password)
	}
}

// shows reports whether s contains pw outside the redaction mask: a password
// such as "xx" is inside "xxxxx" without being shown.
func shows(s, pw string) bool {
	return strings.Contains(strings.ReplaceAll(s, RedactedPassword, "\x00"), pw)
}

// pctEncode encodes every byte but RFC 3986's unreserved characters.
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
