package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// RedactedPassword replaces passwords in redacted DSNs.
const RedactedPassword = "xxxxx"

// secretKeys are the connection parameters that hold secrets.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// Redact returns dsn with its passwords (URL user info, password= and
// sslpassword= parameters) replaced by xxxxx. It accepts URL
// (postgres://...) and key=value DSNs, split the way libpq splits them, and
// is safe for logs and errors: a DSN whose parts are ambiguous is masked
// whole after its scheme.
func Redact(dsn string) string {
	if u, ok := splitURI(dsn); ok {
		if u.ambiguous() {
			return u.scheme + RedactedPassword
		}
		out := u.scheme
		if u.hasUserinfo {
			user, _, hasPw := strings.Cut(u.userinfo, ":")
			out += user
			if hasPw {
				out += ":" + RedactedPassword
			}
			out += "@"
		}
		out += u.hostpath
		if u.hasQuery {
			params := u.params()
			for i, p := range params {
				if k, err := uriDecode(p.key); err != nil || secretKeys[k] {
					params[i].value, params[i].hasValue = RedactedPassword, true
				}
			}
			out += "?" + joinParams(params)
		}
		return out
	}
	pairs, ok := parseKV(dsn)
	if !ok {
		// Not a DSN libpq would take: hide everything rather than leak.
		if strings.Contains(dsn, "password") || strings.Contains(dsn, "@") {
			return RedactedPassword
		}
		return dsn
	}
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		if secretKeys[p[0]] {
			p[1] = RedactedPassword
		}
		parts[i] = p[0] + "=" + quoteValue(p[1])
	}
	return strings.Join(parts, " ")
}

// Secrets are the secrets a DSN can hold, which a client tool must receive
// some other way than on its command line.
type Secrets struct {
	Password    string // the user info password or password=
	SSLPassword string // sslpassword=: the passphrase of the client key
}

// ErrAmbiguousDSN is wrapped by SplitSecrets' error when the DSN's password
// cannot be told apart from its other parts.
var ErrAmbiguousDSN = errors.New("the connection string cannot be split safely")

// SplitSecrets returns dsn without its secrets, and the secrets, so that a
// client tool gets them through its environment instead of its command line.
// The split follows libpq's parsing, and pgconn (the same parser as libpq)
// checks it: the password must be the one pgconn reads from dsn, and the rest
// must hold no secret parameter. An invalid DSN is an error whose message is
// redacted.
func SplitSecrets(dsn string) (rest string, s Secrets, err error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", Secrets{}, fmt.Errorf("invalid connection string %s: %s", Redact(dsn), parseCause(err))
	}
	keys := map[string]bool{"host": true, "port": true, "user": true, "dbname": true}
	if u, ok := splitURI(dsn); ok {
		if u.ambiguous() {
			return "", Secrets{}, ambiguous(dsn)
		}
		rest = u.scheme
		if u.hasUserinfo {
			user, pw, hasPw := strings.Cut(u.userinfo, ":")
			if hasPw {
				if s.Password, err = uriDecode(pw); err != nil {
					return "", Secrets{}, ambiguous(dsn)
				}
			}
			rest += user + "@"
		}
		rest += u.hostpath
		var kept []param
		for _, p := range u.params() {
			k, err := uriDecode(p.key)
			if err != nil {
				return "", Secrets{}, ambiguous(dsn)
			}
			keys[k] = true
			if !secretKeys[k] {
				kept = append(kept, p)
				continue
			}
			v, err := uriDecode(p.value)
			if err != nil {
				return "", Secrets{}, ambiguous(dsn)
			}
			s.set(k, v)
		}
		if len(kept) > 0 {
			rest += "?" + joinParams(kept)
		}
	} else {
		pairs, ok := parseKV(dsn)
		if !ok {
			return "", Secrets{}, ambiguous(dsn)
		}
		var parts []string
		for _, p := range pairs {
			keys[p[0]] = true
			if secretKeys[p[0]] {
				s.set(p[0], p[1])
				continue
			}
			parts = append(parts, p[0]+"="+quoteValue(p[1]))
		}
		rest = strings.Join(parts, " ")
	}
	if s.Password != "" && s.Password != cfg.Password {
		return "", Secrets{}, ambiguous(dsn)
	}
	// pgconn must find no secret in what remains (it refuses any key not
	// allowed) and read the same connection from it.
	allowed := make([]string, 0, len(keys))
	for k := range keys {
		if !secretKeys[k] {
			allowed = append(allowed, k)
		}
	}
	restCfg, err := pgconn.ParseConfigWithOptions(rest, pgconn.ParseConfigOptions{
		ConnStringAllowedKeys: allowed,
		GetSSLPassword:        func(_ context.Context) string { return s.SSLPassword },
	})
	if err != nil || restCfg.Host != cfg.Host || restCfg.Port != cfg.Port || restCfg.Database != cfg.Database || restCfg.User != cfg.User {
		return "", Secrets{}, ambiguous(dsn)
	}
	return rest, s, nil
}

// set records secret k; like libpq, the last occurrence wins.
func (s *Secrets) set(k, v string) {
	if k == "password" {
		s.Password = v
	} else {
		s.SSLPassword = v
	}
}

func ambiguous(dsn string) error {
	return fmt.Errorf("%w: %s: percent-encode the password's special characters in a URL (@ as %%40, / as %%2F, space as %%20, %% as %%25), or use the key=value form with password='...'",
		ErrAmbiguousDSN, Redact(dsn))
}

// parseCause says why pgconn refused a DSN without quoting any of it: its
// syntax errors may quote a fragment of a misplaced password.
func parseCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Error() // a file it names (sslrootcert, passfile...) cannot be read
	}
	return "not a connection string libpq accepts"
}
