package pg

import "strings"

// uriParts is a postgres:// URL split the way libpq's parser
// (conninfo_uri_parse_options) and pgconn's split it: the user info ends at
// the first @ that comes before any /, so a ? or # in a password needs no
// encoding; the query starts at the first ? after the user info.
type uriParts struct {
	scheme      string // "postgres://" or "postgresql://"
	userinfo    string // raw, without the @
	hasUserinfo bool
	hostpath    string // raw hosts, ports and path
	query       string // raw, without the ?
	hasQuery    bool
}

// splitURI splits dsn when it is a URL.
func splitURI(dsn string) (uriParts, bool) {
	var u uriParts
	for _, scheme := range []string{"postgresql://", "postgres://"} {
		if strings.HasPrefix(dsn, scheme) {
			u.scheme = scheme
		}
	}
	if u.scheme == "" {
		return u, false
	}
	p := dsn[len(u.scheme):]
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		u.userinfo, u.hasUserinfo, p = p[:i], true, p[i+1:]
	}
	u.hostpath, u.query, u.hasQuery = strings.Cut(p, "?")
	return u, true
}

// ambiguous reports a URL whose parts a reader could split differently than
// libpq: an @ left outside the user info (a password with an unencoded @ or
// /), or a port that is not a number (a password cut at an unencoded /).
// Such a URL is redacted whole and never split.
func (u uriParts) ambiguous() bool {
	if strings.Contains(u.hostpath, "@") || !u.hasUserinfo && strings.Contains(u.query, "@") {
		return true
	}
	netloc, _, _ := strings.Cut(u.hostpath, "/")
	for _, h := range strings.Split(netloc, ",") {
		if strings.HasPrefix(h, "[") {
			end := strings.IndexByte(h, ']')
			if end < 0 {
				return true
			}
			h = h[end+1:]
			if h != "" && h[0] != ':' {
				return true
			}
		}
		if _, port, ok := strings.Cut(h, ":"); ok && strings.Trim(port, "0123456789") != "" {
			return true
		}
	}
	return false
}

// param is one key=value of a URL query, raw.
type param struct {
	key, value string
	hasValue   bool
}

func (u uriParts) params() []param {
	if !u.hasQuery || u.query == "" {
		return nil
	}
	var ps []param
	for _, kv := range strings.Split(u.query, "&") {
		k, v, ok := strings.Cut(kv, "=")
		ps = append(ps, param{key: k, value: v, hasValue: ok})
	}
	return ps
}

func joinParams(ps []param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.key
		if p.hasValue {
			parts[i] += "=" + p.value
		}
	}
	return strings.Join(parts, "&")
}

// errBadEncoding is returned by uriDecode.
type errBadEncoding struct{}

func (errBadEncoding) Error() string { return "invalid percent-encoding" }

// uriDecode decodes a URL part as libpq does: leading spaces are skipped and
// the value ends at the next space; %XX is a byte (%00 is refused); + is a
// plus.
func uriDecode(raw string) (string, error) {
	raw = strings.TrimLeft(raw, " ")
	if i := strings.IndexByte(raw, ' '); i >= 0 {
		raw = raw[:i]
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			b.WriteByte(raw[i])
			continue
		}
		if i+2 >= len(raw) {
			return "", errBadEncoding{}
		}
		hi, ok1 := unhex(raw[i+1])
		lo, ok2 := unhex(raw[i+2])
		if !ok1 || !ok2 || hi == 0 && lo == 0 {
			return "", errBadEncoding{}
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isSpace is libpq's isspace for key=value connection strings.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseKV splits a libpq key=value connection string into pairs, honouring
// single quotes and backslash escapes.
func parseKV(s string) ([][2]string, bool) {
	var pairs [][2]string
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return pairs, true
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
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
				if s[i] == '\\' {
					if i+1 >= len(s) {
						return nil, false
					}
					i++
				}
				val.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false // unterminated quote
			}
			i++
		} else {
			for ; i < len(s) && !isSpace(s[i]); i++ {
				if s[i] == '\\' {
					if i+1 >= len(s) {
						break // a trailing backslash ends the value
					}
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
	if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f\\'") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
