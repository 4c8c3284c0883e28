package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a length of time as a plan writes it: a Go duration (250ms,
// 90s, 1h30m), days and weeks (30d, 2w, 1.5d), calendar months and years
// (6mo, 1y), or a sum of them (1y6mo, 2d12h). Every step parameter that is
// a length of time has this type. Months and years are calendar units:
// Before subtracts them with time.AddDate, so "1mo" before March 31 is
// March 3 (as time.AddDate normalises February 31), and Std counts them as
// an average Gregorian month.
type Duration struct {
	Months int           // calendar months; a year counts 12
	Days   int           // whole days; a week counts 7
	Clock  time.Duration // hours and shorter, and fractions of days
}

// Lengths of the units Std counts with.
const (
	day   = 24 * time.Hour
	month = time.Duration(30.436875 * float64(day)) // 365.2425 days / 12
)

// maxCalendar bounds the number before mo, y, w and d: 100,000 years is
// beyond any retention or key policy.
const maxCalendar = 1_200_000

// durationHint ends every parse error with the forms a plan may write.
const durationHint = "(use e.g. 90s, 15m, 36h, 14d, 2w, 6mo, 1y or a sum such as 1y6mo)"

// ParseDuration parses a duration as plans write it (see Duration). The
// empty string is zero; negative durations are refused.
func ParseDuration(s string) (Duration, error) { return parseDuration(s, false) }

// ParseRetention parses a retention span as restic writes them, where a
// bare m is a month (6m = 6mo; restic's spans have no minutes); every other
// unit is as ParseDuration reads it. A field tagged `duration:"retention"`
// is read this way.
func ParseRetention(s string) (Duration, error) { return parseDuration(s, true) }

func parseDuration(s string, mIsMonth bool) (Duration, error) {
	var d Duration
	rest := strings.TrimSpace(s)
	if rest == "0" || rest == "" {
		return d, nil
	}
	bad := func(why string) (Duration, error) {
		if why != "" {
			why = ": " + why
		}
		return Duration{}, fmt.Errorf("%q is not a duration%s %s", s, why, durationHint)
	}
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i < 0 {
			i = len(rest)
		}
		if i == 0 {
			if strings.HasPrefix(rest, "-") {
				return bad("it is negative")
			}
			return bad("")
		}
		num := rest[:i]
		rest = rest[i:]
		unit := rest
		if j := strings.IndexFunc(rest, func(r rune) bool { return (r >= '0' && r <= '9') || r == '.' }); j >= 0 {
			unit = rest[:j]
		}
		rest = rest[len(unit):]
		if unit == "m" && mIsMonth {
			unit = "mo"
		}
		switch unit {
		case "y", "mo", "w", "d":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return bad("")
			}
			if f > maxCalendar {
				return bad(num + unit + " is too long")
			}
			switch unit {
			case "y", "mo":
				if f != math.Trunc(f) {
					return bad("months and years are whole numbers")
				}
				n := int(f)
				if unit == "y" {
					n *= 12
				}
				d.Months += n
			case "w", "d":
				if unit == "w" {
					f *= 7
				}
				whole := math.Trunc(f)
				d.Days += int(whole)
				d.Clock += time.Duration((f - whole) * float64(day))
			}
		case "":
			return bad("a number needs a unit")
		default:
			c, err := time.ParseDuration(num + unit)
			if err != nil {
				return bad("")
			}
			if d.Clock > math.MaxInt64-c {
				return bad("it is too long")
			}
			d.Clock += c
		}
	}
	return d, nil
}

// IsZero tells whether d is no time at all.
func (d Duration) IsZero() bool { return d == Duration{} }

// Std is d as a time.Duration: a day is 24 hours and a month an average
// Gregorian month (30.436875 days). It saturates at the largest
// time.Duration. Where a calendar applies (retention, key ages), use
// Before instead.
func (d Duration) Std() time.Duration {
	f := float64(d.Months)*float64(month) + float64(d.Days)*float64(day) + float64(d.Clock)
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(f)
}

// Before returns t minus d, months and days on the calendar of t's
// location.
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(0, -d.Months, -d.Days).Add(-d.Clock)
}

// String renders d in the form ParseDuration reads: 1y6mo, 14d, 36h, 1m30s;
// zero is 0s.
func (d Duration) String() string {
	var b strings.Builder
	if y := d.Months / 12; y > 0 {
		fmt.Fprintf(&b, "%dy", y)
	}
	if m := d.Months % 12; m > 0 {
		fmt.Fprintf(&b, "%dmo", m)
	}
	if d.Days > 0 {
		fmt.Fprintf(&b, "%dd", d.Days)
	}
	if d.Clock > 0 || b.Len() == 0 {
		c := d.Clock.String()
		// time.Duration writes 36h0m0s and 5m0s; plans write 36h and 5m.
		if strings.HasSuffix(c, "m0s") {
			c = strings.TrimSuffix(c, "0s")
		}
		if strings.HasSuffix(c, "h0m") {
			c = strings.TrimSuffix(c, "0m")
		}
		b.WriteString(c)
	}
	return b.String()
}

// UnmarshalYAML reads a duration scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	return decodeScalar(n, "a duration (e.g. 30s, 14d)", ParseDuration, d)
}

// MarshalText writes d as String does, so that JSON and YAML show what a
// plan would write.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
