package runner

import (
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// secretEnvNames are environment variables that hold secrets whatever
// their name's shape.
var secretEnvNames = map[string]bool{
	"PGPASSWORD": true, "MYSQL_PWD": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"PASSWORD": true, "PASSPHRASE": true, "TOKEN": true, "SECRET": true, "API_KEY": true,
}

// IsSecretEnvName reports whether environment variable name holds a secret:
// a well-known one (PGPASSWORD, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// MYSQL_PWD), or one named like a secret: *PASSWORD, *PASSWD, *PASSPHRASE,
// *SECRET* (SLUICE_S3_SECRET_KEY too), *_TOKEN, *_API_KEY, *_PRIVATE_KEY,
// *_ACCESS_KEY. Names that say where a secret is (*_FILE, *_PATH, *_DIR)
// do not hold one.
func IsSecretEnvName(name string) bool {
	n := strings.ToUpper(name)
	if secretEnvNames[n] {
		return true
	}
	for _, suffix := range []string{"_FILE", "_PATH", "_DIR"} {
		if strings.HasSuffix(n, suffix) {
			return false
		}
	}
	if strings.Contains(n, "SECRET") {
		return true
	}
	for _, suffix := range []string{"PASSWORD", "PASSWD", "PASSPHRASE", "_TOKEN", "_API_KEY", "_APIKEY", "_PRIVATE_KEY", "_ACCESS_KEY"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// EnvSecrets returns the secrets environ (KEY=VALUE entries) holds: the
// values of the variables IsSecretEnvName names, and the password of every
// URL or connection string in any variable. tooShort names the variables
// whose secret is shorter than MinSecretLen: such a value is left out, as
// masking it would mangle output and give it away.
func EnvSecrets(environ []string) (secrets, tooShort []string) {
	add := func(name, v string) {
		switch {
		case v == "":
		case utf8.RuneCountInString(v) < MinSecretLen:
			tooShort = append(tooShort, name)
		default:
			secrets = append(secrets, v)
		}
	}
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if IsSecretEnvName(name) {
			add(name, v)
			continue
		}
		for _, pw := range Passwords(v) {
			add(name, pw)
		}
	}
	sort.Strings(secrets)
	return secrets, dedupe(tooShort)
}

// ValueSecrets returns the passwords of the URLs and connection strings in
// the given values (strings, and lists or maps of them, a map's keys too),
// e.g. the params of a run: a password in a param that is not declared
// secret is still one.
func ValueSecrets(values map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, Passwords(x)...)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				// A for_each over the map shows each key as an item's name.
				out = append(out, Passwords(k)...)
				walk(e)
			}
		}
	}
	for _, v := range values {
		walk(v)
	}
	sort.Strings(out)
	return out
}

// Passwords returns the passwords s holds in URL user info
// (scheme://user:PASSWORD@host) or as a password=VALUE setting of a
// connection string, decoded as their syntax says.
func Passwords(s string) []string {
	var out []string
	for _, c := range credentialSpans(s) {
		pw := s[c.start:c.end]
		if c.url {
			if dec, err := url.PathUnescape(pw); err == nil {
				pw = dec
			}
		} else if len(pw) >= 2 && pw[0] == '\'' && pw[len(pw)-1] == '\'' {
			pw = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(pw[1 : len(pw)-1])
		}
		if pw != "" && pw != Mask {
			out = append(out, pw)
		}
	}
	return out
}

func dedupe(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
