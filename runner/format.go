package runner

import "fmt"

// FormatBytes renders a byte count in binary units, as reports, progress
// lines and the CLI show sizes: "1023 B", "1.5 KiB", "256.0 MiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Plural returns "s" unless n is 1, for counts in messages: "%d item%s".
func Plural[N int | int64](n N) string {
	if n == 1 {
		return ""
	}
	return "s"
}
