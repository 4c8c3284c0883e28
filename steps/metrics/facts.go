package metrics

import (
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// Step types whose outputs carry domain facts. The outputs are read by
// name, as `sluice steps TYPE` documents them; a missing or differently
// shaped output is left out rather than guessed.

// backups records, per destination and database, the newest backup the run
// stored: every upload step that succeeded (its object, sidecar and
// manifest were committed).
func backups(s *Set, rep *runner.Report) {
	for _, rec := range records(rep) {
		st := rec.st
		if st.Type != "upload" || st.Status != runner.StatusSucceeded {
			continue
		}
		u, _ := st.Outputs["url"].(string)
		dest := Dest(u, rep.RunID)
		if dest == "" {
			continue
		}
		db := sourceDatabase(rec)
		at := unix(st.Finished)
		if old, ok := s.value("sluice_backup_last_success_timestamp_seconds", dest, db); ok && old > at {
			continue
		}
		s.set("sluice_backup_last_success_timestamp_seconds", at, dest, db)
		if n, ok := runner.Number(st.Outputs["bytes"]); ok {
			s.set("sluice_backup_last_success_size_bytes", n, dest, db)
		}
	}
}

// sourceDatabase follows a sink's stream back to its source and returns the
// database a dump source names, or "".
func sourceDatabase(rec record) string {
	for seen := 0; rec.st != nil && seen <= len(rec.rep.Steps); seen++ {
		if rec.st.Input == "" {
			if rec.st.Type == "dump" {
				db, _ := rec.st.Outputs["database"].(string)
				return db
			}
			return ""
		}
		rec.st = rec.upstream()
	}
	return ""
}

// Dest returns the destination folder of a stored object's URL, as the
// catalogue names it (sluice backups metrics DEST): without user info or
// query, and without the object's name and the trailing folders named after
// the run (its id, or a date or time such as 2026-11-26), which plans put
// in object names to keep runs apart. runID may be empty; so is the result
// for a URL that does not parse.
func Dest(rawURL, runID string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return ""
	}
	p := path.Dir(u.Path)
	for p != "/" && p != "." {
		el := path.Base(p)
		if !(runID != "" && strings.Contains(el, runID)) && !dateLike(el) {
			break
		}
		p = path.Dir(p)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: p}).String()
}

// Root returns a catalogue root URL in the form Dest gives.
func Root(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return strings.TrimSuffix(rawURL, "/")
	}
	p := strings.TrimSuffix(u.Path, "/")
	if p == "" {
		p = "/"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: p}).String()
}

// dateLike tells whether a folder name is a date or time: digits with
// separators, such as 2026-11-26, 20261126T2234Z, or 2026 and 11 of
// 2026/11/26.
func dateLike(el string) bool {
	digits := 0
	for _, r := range el {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("-_.:TZ", r):
		default:
			return false
		}
	}
	return digits >= 2
}

// verify records, per destination, what a verify step checked and, when no
// backup of it failed, when and at which level they were all verified.
func verify(s *Set, st *runner.StepReport) {
	list, _ := st.Outputs["backups"].([]any)
	type agg struct{ checked, failed, content int }
	dests := map[string]*agg{}
	var order []string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		u, _ := m["url"].(string)
		name, _ := m["name"].(string)
		dest := Root(strings.TrimSuffix(u, "/"+name))
		if u == "" || name == "" || dest == "" {
			continue
		}
		a := dests[dest]
		if a == nil {
			a = &agg{}
			dests[dest] = a
			order = append(order, dest)
		}
		a.checked++
		if ok, _ := m["ok"].(bool); !ok {
			a.failed++
		} else if m["level"] == "content" {
			a.content++
		}
	}
	for _, dest := range order {
		a := dests[dest]
		s.set("sluice_verify_checked_backups", float64(a.checked), dest)
		s.set("sluice_verify_failed_backups", float64(a.failed), dest)
		if a.failed > 0 {
			continue
		}
		s.set("sluice_verify_last_success_timestamp_seconds", unix(st.Finished), dest, "digest")
		if a.content == a.checked {
			s.set("sluice_verify_last_success_timestamp_seconds", unix(st.Finished), dest, "content")
		}
	}
}

// severities are check-tls's finding severities.
var severities = []string{"critical", "high", "medium", "low", "info"}

// tlsAudit records a check-tls step's handshake, certificate expiry and
// findings per severity, by the address it probed.
func tlsAudit(s *Set, st *runner.StepReport) {
	addr, _ := st.Outputs["address"].(string)
	if addr == "" {
		return
	}
	if hs, ok := st.Outputs["tls"].(bool); ok {
		s.set("sluice_tls_handshake_success", b2f(hs), addr)
	}
	if cert, ok := st.Outputs["cert"].(map[string]any); ok {
		leaf, hasLeaf := 0.0, false
		if na, ok := cert["not_after"].(string); ok {
			if t, err := time.Parse(time.RFC3339, na); err == nil {
				leaf, hasLeaf = unix(t), true
				s.set("sluice_tls_cert_expiry_timestamp_seconds", leaf, addr)
			}
		}
		// chain_days_left counts whole days from the audit: the chain
		// expires no earlier than that many days after it.
		if d, ok := runner.Number(cert["chain_days_left"]); ok {
			chain := unix(st.Finished) + d*86400
			if hasLeaf {
				chain = min(chain, leaf)
			}
			s.set("sluice_tls_chain_expiry_timestamp_seconds", chain, addr)
		}
	}
	if counts, ok := st.Outputs["counts"].(map[string]any); ok {
		for _, sev := range severities {
			n, _ := runner.Number(counts[sev])
			s.set("sluice_tls_findings", n, addr, sev)
		}
	}
}

// verdicts are assert-overhead's verdicts.
var verdicts = []string{"pass", "fail", "inconclusive"}

// overhead records an assert-overhead step's ratios, intervals and
// verdicts, labelled with the step's path. Any output that is a mapping with a ratio is a statistic (p95,
// mean, ...); queries holds the same per query; verdict is the overall one.
func overhead(s *Set, step string, st *runner.StepReport) {
	for stat, v := range st.Outputs {
		if m, ok := v.(map[string]any); ok {
			overheadRow(s, step, "*", stat, m)
		}
	}
	if qs, ok := st.Outputs["queries"].(map[string]any); ok {
		for q, v := range qs {
			stats, _ := v.(map[string]any)
			for stat, v := range stats {
				if m, ok := v.(map[string]any); ok {
					overheadRow(s, step, q, stat, m)
				}
			}
		}
	}
	for _, k := range []string{"max", "limit"} {
		if lim, ok := runner.Number(st.Outputs[k]); ok {
			s.set("sluice_overhead_limit_ratio", lim, step)
			break
		}
	}
	if v, ok := st.Outputs["verdict"].(string); ok && v != "" {
		verdictRows(s, step, "*", "*", v)
		if v == "pass" {
			s.set("sluice_overhead_consecutive_not_passing", 0, step)
		} else {
			s.carry("sluice_overhead_consecutive_not_passing", 1, step)
		}
	}
}

func overheadRow(s *Set, step, query, stat string, m map[string]any) {
	r, ok := runner.Number(m["ratio"])
	if !ok {
		return
	}
	s.set("sluice_overhead_ratio", r, step, query, stat)
	if lo, ok := runner.Number(m["ci_low"]); ok {
		s.set("sluice_overhead_ratio_lower", lo, step, query, stat)
	}
	if hi, ok := runner.Number(m["ci_high"]); ok {
		s.set("sluice_overhead_ratio_upper", hi, step, query, stat)
	}
	if v, ok := m["verdict"].(string); ok && v != "" {
		verdictRows(s, step, query, stat, v)
	}
}

// verdictRows sets the verdict given to 1 and the other known ones to 0.
func verdictRows(s *Set, step, query, stat, given string) {
	for _, v := range verdicts {
		s.set("sluice_overhead_verdict", b2f(v == given), step, query, stat, v)
	}
	s.set("sluice_overhead_verdict", 1, step, query, stat, given)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unix returns t as Unix seconds with sub-second precision.
func unix(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
