package pg

import (
	"strings"
	"testing"
)

func TestToolLogSummary(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{"pg_restore into a non-empty database",
			"pg_restore: error: could not execute query: ERROR:  relation \"customers\" already exists\nCommand was: CREATE TABLE public.customers (\n    id integer NOT NULL,\n    name text,\n    email text\n);\n\n\n",
			`pg_restore: error: could not execute query: ERROR: relation "customers" already exists`},
		{"server report with detail, hint and context",
			"NOTICE:  something\npg_restore: error: could not execute query: ERROR:  must be superuser to COPY to or from an external program\nHINT:  Anyone can COPY to stdout or from stdin.\nCONTEXT:  SQL statement \"COPY (SELECT 1) TO PROGRAM 'x'\"\nPL/pgSQL function public.f() line 3 at EXECUTE\nCOPY accounts, line 1: \"1\"\n",
			"pg_restore: error: could not execute query: ERROR: must be superuser to COPY to or from an external program; HINT: Anyone can COPY to stdout or from stdin.; CONTEXT: SQL statement \"COPY (SELECT 1) TO PROGRAM 'x'\""},
		{"psql", "psql:<stdin>:12: ERROR:  duplicate key value violates unique constraint \"t_pkey\"\nDETAIL:  Key (id)=(1) already exists.\n",
			`psql:<stdin>:12: ERROR: duplicate key value violates unique constraint "t_pkey"; DETAIL: Key (id)=(1) already exists.`},
		{"connection", "pg_restore: error: connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: FATAL:  database \"x\" does not exist",
			`pg_restore: error: connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL: database "x" does not exist`},
		{"no report line", "one\ntwo\nthree\n", "two; three"},
		{"an error word inside a statement is not a report", "Command was: SELECT 'ERROR: x';\nlast\n", "Command was: SELECT 'ERROR: x';; last"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 7, 1 << 20} {
				l := NewToolLog()
				for s := tt.out; s != ""; {
					n := min(chunk, len(s))
					l.Write([]byte(s[:n]))
					s = s[n:]
				}
				if got := l.Summary(2); got != tt.want {
					t.Fatalf("chunk %d: got\n%s\nwant\n%s", chunk, got, tt.want)
				}
			}
		})
	}
}

func TestToolLogKeepsTheFirstReportPastLongOutput(t *testing.T) {
	l := NewToolLog()
	l.Write([]byte("pg_restore: error: could not execute query: ERROR:  relation \"t\" already exists\nCommand was: CREATE FUNCTION f() AS $$" + strings.Repeat("x := 1;\n", 5000) + "$$;\n"))
	if got := l.Summary(4); !strings.Contains(got, `relation "t" already exists`) {
		t.Fatalf("Summary = %.200s", got)
	}
}
