package catalog

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// backupsAt builds catalogue entries created at the given times (RFC 3339),
// oldest first as Read returns them.
func backupsAt(t *testing.T, times ...string) []Backup {
	t.Helper()
	var out []Backup
	for _, s := range times {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Backup{Name: s, Summary: Summary{Created: ts.UTC()}})
	}
	return out
}

// kept returns the names kept by p, newest first, with their reasons.
func kept(p Policy, bs []Backup) []string {
	var out []string
	for _, d := range p.Apply(bs) {
		if d.Keep {
			out = append(out, d.Backup.Name[:16]+" "+strings.Join(d.Reasons, ","))
		}
	}
	return out
}

func TestPolicyApply(t *testing.T) {
	// Two backups a day for 10 days, 2026-03-01 to 2026-03-10 (Sunday 1st:
	// ISO week 9 ends on the 1st, week 10 is 2nd-8th, week 11 starts 9th).
	var times []string
	for d := 1; d <= 10; d++ {
		day := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC)
		times = append(times, day.Add(2*time.Hour).Format(time.RFC3339), day.Add(14*time.Hour).Format(time.RFC3339))
	}
	bs := backupsAt(t, times...)
	tests := []struct {
		name string
		p    Policy
		want []string
	}{
		{"last 3", Policy{Last: 3}, []string{"2026-03-10T14:00 last 1", "2026-03-10T02:00 last 2", "2026-03-09T14:00 last 3"}},
		{"daily 3 keeps each day's newest", Policy{Daily: 3}, []string{"2026-03-10T14:00 daily 2026-03-10", "2026-03-09T14:00 daily 2026-03-09", "2026-03-08T14:00 daily 2026-03-08"}},
		{"weekly ISO weeks", Policy{Weekly: 3}, []string{"2026-03-10T14:00 weekly 2026-W11", "2026-03-08T14:00 weekly 2026-W10", "2026-03-01T14:00 weekly 2026-W09"}},
		{"monthly", Policy{Monthly: 2}, []string{"2026-03-10T14:00 monthly 2026-03"}},
		{"rules combine, reasons accumulate", Policy{Last: 1, Daily: 2}, []string{"2026-03-10T14:00 last 1,daily 2026-03-10", "2026-03-09T14:00 daily 2026-03-09"}},
		{"within is relative to the newest backup", Policy{Within: runner.Duration{Days: 1}}, []string{"2026-03-10T14:00 within 1d", "2026-03-10T02:00 within 1d"}},
		{"within 36h", Policy{Within: runner.Duration{Clock: 36 * time.Hour}}, []string{"2026-03-10T14:00 within 36h", "2026-03-10T02:00 within 36h", "2026-03-09T14:00 within 36h"}},
		{"unlimited daily", Policy{Daily: -1, Last: 0}, nil}, // checked by count below
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := kept(tc.p, bs)
			if tc.p.Daily == -1 {
				if len(got) != 10 {
					t.Fatalf("keep_daily -1 kept %d backups, want one per day (10): %v", len(got), got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("kept\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestPolicyMonthlyYearlyAcrossYears(t *testing.T) {
	bs := backupsAt(t, "2024-12-31T23:00:00Z", "2025-01-15T10:00:00Z", "2025-06-01T10:00:00Z", "2025-06-30T10:00:00Z", "2026-01-01T00:30:00Z")
	got := kept(Policy{Monthly: 3, Yearly: 3}, bs)
	want := []string{
		"2026-01-01T00:30 monthly 2026-01,yearly 2026",
		"2025-06-30T10:00 monthly 2025-06,yearly 2025",
		"2025-01-15T10:00 monthly 2025-01",
		"2024-12-31T23:00 yearly 2024",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kept\n  %q\nwant\n  %q", got, want)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := (Policy{}).Validate(); err == nil || !strings.Contains(err.Error(), "policy is empty") {
		t.Errorf("empty policy: %v", err)
	}
	if err := (Policy{Daily: -2}).Validate(); err == nil || !strings.Contains(err.Error(), "keep_daily is -2") {
		t.Errorf("keep_daily -2: %v", err)
	}
	if err := (Policy{Last: -1}).Validate(); err != nil {
		t.Errorf("keep_last -1: %v", err)
	}
}

// TestRetentionSpans checks that keep_within and --keep-within read the
// spans restic writes, as catalog's own parser did (m is a month there),
// and that a month is a calendar month.
func TestRetentionSpans(t *testing.T) {
	for in, want := range map[string]runner.Duration{
		"7d": {Days: 7}, "2w": {Days: 14}, "1y6m": {Months: 18}, "36h": {Clock: 36 * time.Hour}, "1y2m3d4h": {Months: 14, Days: 3, Clock: 4 * time.Hour}, "": {},
	} {
		got, err := runner.ParseRetention(in)
		if err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"7", "d", "1x", "-1d", "7 days"} {
		if _, err := runner.ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) succeeded", bad)
		}
	}
	// A month back from 31 March is 3 March (AddDate normalises), as restic.
	if got := (runner.Duration{Months: 1}).Before(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("1m before 2026-03-31 = %v", got)
	}
}
