package tlsaudit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-dev/sluice/steps/pg"
)

// ServerView is what the server says about its own TLS settings, read over
// SQL with the DSN's credentials. Each part that could not be read has an
// entry in Unreadable saying why.
type ServerView struct {
	Connected  bool
	Settings   map[string]string // ssl, ssl_min_protocol_version, ssl_max_protocol_version, ssl_ciphers, password_encryption
	Session    *SessionSSL       // this session's pg_stat_ssl row
	HBARules   []HBARule         // pg_hba rules that admit connections without TLS
	HBARead    bool              // pg_hba_file_rules could be read
	Unreadable map[string]string // part -> why: "connection", "settings", "pg_stat_ssl", "pg_hba_file_rules"

	dsnPlaintext string // how the DSN as given would connect without TLS; empty when it would not
}

// SessionSSL is one row of pg_stat_ssl.
type SessionSSL struct {
	SSL     bool
	Version string
	Cipher  string
	Bits    int
}

// HBARule is a pg_hba.conf line as pg_hba_file_rules shows it.
type HBARule struct {
	Line     int
	Type     string // host, hostnossl
	Database string
	User     string
	Address  string
	Method   string
}

// String renders the rule as a pg_hba.conf line with its number.
func (r HBARule) String() string {
	return fmt.Sprintf("line %d: %s %s %s %s %s", r.Line, r.Type, r.Database, r.User, r.Address, r.Method)
}

var settingNames = []string{"ssl", "ssl_min_protocol_version", "ssl_max_protocol_version", "ssl_ciphers", "password_encryption"}

// readServerView connects with the DSN's credentials, over TLS only, and
// reads the settings, the session's pg_stat_ssl row and the pg_hba rules.
// offered says whether the server offered TLS to the audit's handshake.
func readServerView(ctx context.Context, t *Target, timeout time.Duration, offered bool) ServerView {
	v := ServerView{Unreadable: map[string]string{}}
	cfg, plaintext, err := tlsOnlyConfig(t.DSN)
	v.dsnPlaintext = plaintext
	switch {
	case err != nil:
		v.Unreadable["connection"] = err.Error()
		return v
	case !offered:
		v.Unreadable["connection"] = "the server does not offer TLS, and check-tls sends the DSN's credentials only over TLS"
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pg.ConnectConfig(ctx, cfg)
	if err != nil {
		why := err.Error()
		if t.Password == "" {
			why += " (the DSN has no password)"
		}
		v.Unreadable["connection"] = why
		return v
	}
	defer conn.Close(context.Background())
	v.Connected = true

	v.Settings = map[string]string{}
	for _, name := range settingNames {
		var val string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&val); err != nil {
			v.Unreadable["settings"] = addWhy(v.Unreadable["settings"], name+": "+err.Error())
			continue
		}
		v.Settings[name] = val
	}

	var s SessionSSL
	var bits *int32
	var ver, cipher *string
	err = conn.QueryRow(ctx, "SELECT ssl, version, cipher, bits FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&s.SSL, &ver, &cipher, &bits)
	if err != nil {
		v.Unreadable["pg_stat_ssl"] = err.Error()
	} else {
		if ver != nil {
			s.Version = *ver
		}
		if cipher != nil {
			s.Cipher = *cipher
		}
		if bits != nil {
			s.Bits = int(*bits)
		}
		v.Session = &s
	}

	v.HBARules, err = nonTLSRules(ctx, conn)
	if err != nil {
		v.Unreadable["pg_hba_file_rules"] = err.Error() + " (reading it needs superuser or a GRANT SELECT ON pg_hba_file_rules)"
	} else {
		v.HBARead = true
	}
	return v
}

// tlsOnlyConfig parses dsn and keeps only its connection attempts over
// TLS, with the DSN's own verification: the plaintext fallback of
// sslmode=prefer and the plaintext first attempt of sslmode=allow are
// dropped, and sslmode=disable is an error. plaintext says how the DSN as
// given would connect without TLS ("" when it would not).
func tlsOnlyConfig(dsn string) (cfg *pgx.ConnConfig, plaintext string, err error) {
	cfg, err = pgx.ParseConfig(dsn)
	if err != nil {
		// ParseTarget parsed it already; pgconn's error may quote the DSN.
		return nil, "", errors.New("the DSN could not be parsed for a connection")
	}
	attempts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	var withTLS []*pgconn.FallbackConfig
	for _, a := range attempts {
		if a.TLSConfig != nil {
			withTLS = append(withTLS, a)
		}
	}
	switch {
	case len(withTLS) == 0:
		return nil, "the DSN's sslmode=disable never uses TLS",
			errors.New("the DSN says sslmode=disable, and check-tls sends the DSN's credentials only over TLS: give sslmode=verify-full")
	case cfg.TLSConfig == nil:
		plaintext = "the DSN's sslmode=allow tries a connection without TLS first"
	}
	cfg.Host, cfg.Port, cfg.TLSConfig, cfg.Fallbacks = withTLS[0].Host, withTLS[0].Port, withTLS[0].TLSConfig, withTLS[1:]
	return cfg, plaintext, nil
}

func addWhy(old, s string) string {
	if old == "" {
		return s
	}
	return old + "; " + s
}

// nonTLSRules returns the pg_hba rules that admit TCP connections without
// TLS and are reachable: a rule is left out when an earlier reject rule for
// every database and user covers its whole address range.
func nonTLSRules(ctx context.Context, conn *pgx.Conn) ([]HBARule, error) {
	rows, err := conn.Query(ctx, `SELECT line_number, type, coalesce(array_to_string(database, ','), ''),
		coalesce(array_to_string(user_name, ','), ''), coalesce(address, ''), coalesce(netmask, ''),
		coalesce(auth_method, ''), coalesce(error, '')
		FROM pg_hba_file_rules ORDER BY line_number`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HBARule
	var rejects []*net.IPNet // nil entry: every address
	for rows.Next() {
		var r HBARule
		var mask, errText string
		if err := rows.Scan(&r.Line, &r.Type, &r.Database, &r.User, &r.Address, &mask, &r.Method, &errText); err != nil {
			return nil, err
		}
		if errText != "" || (r.Type != "host" && r.Type != "hostnossl") {
			continue
		}
		n := ruleNet(r.Address, mask)
		if shadowed(n, rejects) {
			continue
		}
		if r.Method == "reject" {
			if r.Database == "all" && r.User == "all" && (n != nil || r.Address == "all") {
				rejects = append(rejects, n)
			}
			continue
		}
		if n != nil {
			r.Address = n.String()
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ruleNet returns the network of a rule's address, or nil for "all" and
// for names (samehost, host names) that cannot be compared.
func ruleNet(addr, mask string) *net.IPNet {
	if addr == "" || addr == "all" {
		return nil
	}
	ip := net.ParseIP(addr)
	m := net.ParseIP(mask)
	if ip == nil || m == nil {
		return nil
	}
	if v4 := ip.To4(); v4 != nil {
		return &net.IPNet{IP: v4, Mask: net.IPMask(m.To4())}
	}
	return &net.IPNet{IP: ip, Mask: net.IPMask(m.To16())}
}

// shadowed reports whether an earlier catch-all reject covers n (nil: every
// address, which only a reject for every address covers).
func shadowed(n *net.IPNet, rejects []*net.IPNet) bool {
	for _, rj := range rejects {
		if rj == nil {
			return true
		}
		if n == nil {
			continue
		}
		rOnes, rBits := rj.Mask.Size()
		nOnes, nBits := n.Mask.Size()
		if rBits == nBits && rOnes <= nOnes && rj.Contains(n.IP) {
			return true
		}
	}
	return false
}

// describeRules renders rules for evidence.
func describeRules(rules []HBARule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, "; ")
}
