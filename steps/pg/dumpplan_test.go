package pg

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func tables(sizes ...int64) []Table {
	var ts []Table
	for i, s := range sizes {
		ts = append(ts, Table{Schema: "public", Name: fmt.Sprintf("t%d", i), Bytes: s})
	}
	return SortLargestFirst(ts)
}

// TestPlanDumpCoversEveryTableOnce: every table's rows are in exactly one
// part (named there, or in the rest part because no part names it), the
// schema parts come first and last, and the data parts are bounded.
func TestPlanDumpCoversEveryTableOnce(t *testing.T) {
	cases := []struct {
		name  string
		sizes []int64
		jobs  int
		data  int // data parts, the rest included
	}{
		{"eight tables", []int64{800, 400, 200, 100, 50, 25, 12, 6}, 4, 5},
		{"one huge table", []int64{1 << 30, 10, 10, 10}, 2, 2},
		{"many small tables", func() []int64 {
			s := make([]int64, 1000)
			for i := range s {
				s[i] = 8192
			}
			return s
		}(), 2, 8},
		{"empty database", []int64{0, 0, 0}, 4, 4},
		{"no tables", nil, 4, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := tables(tc.sizes...)
			parts := PlanDump(ts, tc.jobs)
			first, last := parts[0], parts[len(parts)-1]
			if first.Section != SectionPreData || first.RestorePhase != 0 || last.Section != SectionPostData || last.RestorePhase != 2 {
				t.Fatalf("schema parts: first %+v, last %+v", first, last)
			}
			data := parts[1 : len(parts)-1]
			if len(data) != tc.data || len(data) > tc.jobs*PartsPerJob {
				t.Errorf("%d data parts, want %d (at most %d)", len(data), tc.data, tc.jobs*PartsPerJob)
			}
			rest := data[len(data)-1]
			if !rest.Rest || len(rest.Tables) != 0 {
				t.Fatalf("the last data part is not the rest: %+v", rest)
			}
			seen := map[Table]int{}
			var sum int64
			for i, p := range data {
				if p.Section != SectionData || p.RestorePhase != 1 || !strings.HasSuffix(p.Label, "-data") {
					t.Errorf("data part %d: %+v", i, p)
				}
				for _, tb := range p.Tables {
					seen[tb]++
				}
				sum += p.Bytes
			}
			for _, tb := range ts {
				named := seen[tb]
				excluded := slices.Contains(rest.Excluded, tb)
				if named > 1 || (named == 1) != excluded {
					t.Errorf("table %s: named by %d parts, excluded from the rest: %v", tb, named, excluded)
				}
			}
			var total int64
			for _, tb := range ts {
				total += tb.Bytes
			}
			if sum != total {
				t.Errorf("the parts' estimates add up to %d, the tables to %d", sum, total)
			}
			for i, p := range parts {
				if want := fmt.Sprintf("%0*d-", len(strings.Split(p.Label, "-")[0]), i); !strings.HasPrefix(p.Label, want) {
					t.Errorf("part %d is labelled %q", i, p.Label)
				}
			}
		})
	}
}

func TestPlanDumpLargestFirst(t *testing.T) {
	parts := PlanDump(tables(800, 400, 200, 100, 50, 25, 12, 6), 4)
	var got []string
	for _, p := range StartOrder(parts) {
		got = append(got, fmt.Sprintf("%s:%d", p.Label, p.Bytes))
	}
	// target 1593/16 = 99: 800, 400, 200 and 100 alone, then 50+25+12+6
	// = 93 stays under it and goes to the rest.
	want := []string{"01-data:800", "02-data:400", "03-data:200", "04-data:100", "05-data:93", "00-pre-data:0", "06-post-data:0"}
	if !slices.Equal(got, want) {
		t.Errorf("start order %v, want %v", got, want)
	}
	args := parts[1].Args("00000003-00000002-1")
	if !slices.Equal(args, []string{"--snapshot=00000003-00000002-1", "--section=data", "--strict-names", `--table="public"."t0"`}) {
		t.Errorf("args of a data part: %q", args)
	}
	rest := parts[5].Args("S")
	if !slices.Contains(rest, `--exclude-table-data="public"."t3"`) || slices.Contains(rest, `--exclude-table-data="public"."t4"`) || slices.Contains(rest, "--strict-names") {
		t.Errorf("args of the rest: %q", rest)
	}
}

func TestTablePatternQuotes(t *testing.T) {
	tb := Table{Schema: `Odd "Schema"`, Name: "a.b*?"}
	if got := tb.String(); got != `"Odd ""Schema"""."a.b*?"` {
		t.Errorf("pattern %s", got)
	}
}
