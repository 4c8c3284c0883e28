package pg

import (
	"net/url"
	"strings"
)

// RedactedPassword replaces passwords in redacted DSNs.
const RedactedPassword = "xxxxx"

// secretKeys are the connection parameters that hold secrets.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// Redact returns dsn with its passwords (URL user info, password= and
// sslpassword= parameters) replaced by xxxxx. It accepts URL
// (postgres://...) and key=value DSNs and is safe for logs and errors.
func Redact(dsn string) string {
	out, _ := rewrite(dsn, func(_, _ string) (string, bool) { return RedactedPassword, true })
	return out
}

// SplitPassword returns dsn without its password and the password (empty
// when there is none), so that a client tool can get the password through
// PGPASSWORD instead of its command line. Other parameters are kept
// (sslpassword too: libpq has no environment variable for it).
func SplitPassword(dsn string) (rest, password string) {
	var pw string
	out, _ := rewrite(dsn, func(key, p string) (string, bool) {
		if key == "sslpassword" {
			return p, true
		}
		if pw == "" {
			pw = p
		}
		return "", false
	})
	return out, pw
}

// rewrite calls fn with each secret in dsn (the user info password counts
// as key "password"); fn returns the replacement and whether to keep the
// parameter.
func rewrite(dsn string, fn func(key, value string) (string, bool)) (string, bool) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return rewriteURL(dsn, fn), true
	}
	pairs, ok := parseKV(dsn)
	if !ok {
		// Not a DSN we understand: hide everything rather than leak.
		if strings.Contains(dsn, "password") || strings.Contains(dsn, "@") {
			return RedactedPassword, false
		}
		return dsn, false
	}
	var parts []string
	for _, p := range pairs {
		if secretKeys[p[0]] {
			v, keep := fn(p[0], p[1])
			if !keep {
				continue
			}
			p[1] = v
		}
		parts = append(parts, p[0]+"="+quoteValue(p[1]))
	}
	return strings.Join(parts, " "), true
}

func rewriteURL(dsn string, fn func(key, value string) (string, bool)) string {
	i := strings.Index(dsn, "://") + 3
	scheme, rest := dsn[:i], dsn[i:]
	query := ""
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest, query = rest[:q], rest[q+1:]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo, hostpath := rest[:at], rest[at+1:]
		if c := strings.IndexByte(userinfo, ':'); c >= 0 {
			pw, err := url.PathUnescape(userinfo[c+1:])
			if err != nil {
				pw = userinfo[c+1:]
			}
			if v, keep := fn("password", pw); keep {
				userinfo = userinfo[:c] + ":" + v
			} else {
				userinfo = userinfo[:c]
			}
		}
		rest = userinfo + "@" + hostpath
	}
	if query == "" {
		return scheme + rest
	}
	var params []string
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if secretKeys[k] {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				uv = v
			}
			nv, keep := fn(k, uv)
			if !keep {
				continue
			}
			kv = k + "=" + url.QueryEscape(nv)
		}
		params = append(params, kv)
	}
	if len(params) == 0 {
		return scheme + rest
	}
	return scheme + rest + "?" + strings.Join(params, "&")
}

// parseKV splits a libpq key=value connection string into pairs, honouring
// single quotes and backslash escapes.
func parseKV(s string) ([][2]string, bool) {
	var pairs [][2]string
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return pairs, true
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		skip()
		if key == "" || i >= len(s) || s[i] != '=' {
			return nil, false
		}
		i++
		skip()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false // unterminated quote
			}
			i++
		} else {
			for ; i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
			}
		}
		pairs = append(pairs, [2]string{key, val.String()})
	}
}

// quoteValue quotes a key=value DSN value when it needs it.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\\'") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
