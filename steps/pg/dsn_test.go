package pg

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cr%40t@db.example.com:5432/app?sslmode=require", "postgres://app:xxxxx@db.example.com:5432/app?sslmode=require"},
		{"postgresql://app@db/app", "postgresql://app@db/app"},
		{"postgres://app:p@zz@db/app", "postgres://xxxxx"},
		{"postgres://app:Qx?7s3cr3t@db/app?sslmode=disable", "postgres://app:xxxxx@db/app?sslmode=disable"},
		{"postgres://app:pa/zz@db/app", "postgres://xxxxx"},
		{"postgres://db/app?pass%77ord=hunter2", "postgres://db/app?pass%77ord=xxxxx"},
		{"postgres://db/app?user=app&password=hunter2&sslmode=disable", "postgres://db/app?user=app&password=xxxxx&sslmode=disable"},
		{"postgres://h1:5432,h2:5433/app?sslpassword=k", "postgres://h1:5432,h2:5433/app?sslpassword=xxxxx"},
		{"host=db user=app password=hunter2 dbname=app", "host=db user=app password=xxxxx dbname=app"},
		{"host=db password = 'two words \\' quote' dbname=app", "host=db password=xxxxx dbname=app"},
		{"host=db dbname=app", "host=db dbname=app"},
		{"host=db password='unterminated", "xxxxx"},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, secret := range []string{"hunter2", "s3cr", "two words", "unterminated", "zz"} {
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) leaks %q", tt.in, secret)
			}
		}
	}
}

func TestSplitSecrets(t *testing.T) {
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	tests := []struct{ in, rest, pw, sslpw string }{
		{"postgres://app:s3cr%40t@db:5432/app?sslmode=require", "postgres://app@db:5432/app?sslmode=require", "s3cr@t", ""},
		{"postgres://db/app?password=a%26b&sslmode=disable", "postgres://db/app?sslmode=disable", "a&b", ""},
		{"postgres://db/app?password=x", "postgres://db/app", "x", ""},
		// libpq ends the user info at the first @ before any /: ? and # need no encoding.
		{"postgres://app:Qx?7s3#cr3t@db/app", "postgres://app@db/app", "Qx?7s3#cr3t", ""},
		{"postgresql://app:pw@db/app?sslpassword=k%20k&application_name=x", "postgresql://app@db/app?application_name=x", "pw", "k k"},
		{"host=db password='it\\'s' dbname=app", "host=db dbname=app", "it's", ""},
		{"host=db dbname=app", "host=db dbname=app", "", ""},
	}
	for _, tt := range tests {
		rest, s, err := SplitSecrets(tt.in)
		if err != nil || rest != tt.rest || s.Password != tt.pw || s.SSLPassword != tt.sslpw {
			t.Errorf("SplitSecrets(%q) = %q, %+v, %v; want %q, %q, %q", tt.in, rest, s, err, tt.rest, tt.pw, tt.sslpw)
		}
	}
	// libpq would read these differently than a reader of the text; they
	// are refused, and the error shows no part of the password.
	for _, in := range []string{
		"postgres://app:p@zz@db/app",     // unencoded @
		"postgres://app:pa/zz@db/app",    // unencoded /
		"postgres://app:1/2?3@db/app",    // unencoded / before ?
		"host=db password='unterminated", // not a DSN
	} {
		_, _, err := SplitSecrets(in)
		if err == nil {
			t.Errorf("SplitSecrets(%q) accepted it", in)
			continue
		}
		for _, secret := range []string{"zz", "pa/", "2?3", "unterminated"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("SplitSecrets(%q) error leaks %q: %v", in, secret, err)
			}
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in    string
		major int
		key   int
	}{
		{"pg_dump (PostgreSQL) 15.13 (Debian 15.13-0+deb12u1)", 15, 1500},
		{"psql (PostgreSQL) 9.6.24", 9, 906},
		{"17beta1", 17, 1700},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.in)
		if err != nil || v.Major != tt.major || v.MajorKey() != tt.key {
			t.Errorf("ParseVersion(%q) = %+v, %v; want major %d key %d", tt.in, v, err, tt.major, tt.key)
		}
	}
	if v := VersionFromNum(90624); v.MajorString() != "9.6" || v.Text != "9.6.24" {
		t.Errorf("VersionFromNum(90624) = %+v", v)
	}
	if v := VersionFromNum(150013); v.MajorString() != "15" || v.Text != "15.13" {
		t.Errorf("VersionFromNum(150013) = %+v", v)
	}
}
