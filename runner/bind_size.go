package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size is a byte count that a plan may write as a number of bytes or with a
// unit: 512KiB, 64MiB, 1.5GB (K/KB/M/MB/G/GB/T/TB are powers of 1000,
// KiB/MiB/GiB/TiB powers of 1024).
type Size int64

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40,
}

// ParseSize parses a size such as "64MiB" or "1024".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || f < 0 || f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size (use bytes or a unit, e.g. 64MiB)", s)
	}
	return Size(f * mult), nil
}

// UnmarshalYAML accepts an integer or a size string.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	return decodeScalar(n, "a size (e.g. 64MiB)", ParseSize, s)
}

// decodeScalar parses the scalar n with parse into out; want says what it
// should be when n is not a scalar.
func decodeScalar[T any](n *yaml.Node, want string, parse func(string) (T, error), out *T) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want %s, got %s", want, NodeText(n))
	}
	v, err := parse(n.Value)
	if err != nil {
		return err
	}
	*out = v
	return nil
}

// String formats the size with the largest binary unit that divides it.
func (s Size) String() string {
	units := []string{"TiB", "GiB", "MiB", "KiB"}
	for i, u := range units {
		m := int64(1) << (10 * (4 - i))
		if s != 0 && int64(s)%m == 0 {
			return fmt.Sprintf("%d%s", int64(s)/m, u)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}
