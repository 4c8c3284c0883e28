package pg

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cr%40t@db.example.com:5432/app?sslmode=require", "postgres://app:xxxxx@db.example.com:5432/app?sslmode=require"},
		{"postgresql://app@db/app", "postgresql://app@db/app"},
		{"postgres://app:p@ss@db/app", "postgres://app:xxxxx@db/app"},
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
		for _, secret := range []string{"hunter2", "s3cr", "two words", "unterminated"} {
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) leaks %q", tt.in, secret)
			}
		}
	}
}

func TestSplitPassword(t *testing.T) {
	tests := []struct{ in, rest, pw string }{
		{"postgres://app:s3cr%40t@db:5432/app?sslmode=require", "postgres://app@db:5432/app?sslmode=require", "s3cr@t"},
		{"postgres://db/app?password=a%26b&sslmode=disable", "postgres://db/app?sslmode=disable", "a&b"},
		{"postgres://db/app?password=x", "postgres://db/app", "x"},
		{"host=db password='it\\'s' dbname=app", "host=db dbname=app", "it's"},
		{"host=db dbname=app", "host=db dbname=app", ""},
	}
	for _, tt := range tests {
		rest, pw := SplitPassword(tt.in)
		if rest != tt.rest || pw != tt.pw {
			t.Errorf("SplitPassword(%q) = %q, %q; want %q, %q", tt.in, rest, pw, tt.rest, tt.pw)
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
