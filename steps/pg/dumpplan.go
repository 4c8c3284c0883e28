package pg

import (
	"cmp"
	"fmt"
	"slices"
)

// A parallel dump is several pg_dump processes over one exported snapshot
// (see Snapshot), each writing one custom-format archive of its own: the
// schema before the data (pre-data), the rows of chosen tables (data), the
// rows of every other table with the sequences' values and large objects
// (the rest of the data), and the schema after the data (post-data:
// indexes, constraints, triggers). Restored in that order (the data parts
// in any order, or at once), they give what one pg_dump of the same
// snapshot gives.

// Sections of a dump, in restore order.
const (
	SectionPreData  = "pre-data"
	SectionData     = "data"
	SectionPostData = "post-data"
)

// DumpPart is one pg_dump of a parallel dump.
type DumpPart struct {
	// Label names the part: its number in restore order and its section,
	// e.g. "03-data".
	Label   string
	Section string
	// RestorePhase is 0 for pre-data, 1 for data, 2 for post-data.
	RestorePhase int
	// Tables are the tables whose rows a data part dumps; empty for the
	// rest of the data and the schema parts.
	Tables []Table
	// Rest marks the part that dumps the rows of every table no other part
	// names (Excluded), sequences' values and large objects.
	Rest     bool
	Excluded []Table
	// Bytes is the size of its tables, an estimate of its work.
	Bytes int64
}

// PartsPerJob bounds how many data parts a parallel dump makes: about
// this many per job, so that the last parts to finish are short, without
// an object per table of a database with thousands.
const PartsPerJob = 4

// SortLargestFirst orders tables by size, largest first, then by name.
func SortLargestFirst(tables []Table) []Table {
	slices.SortStableFunc(tables, func(a, b Table) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	return tables
}

// PlanDump splits a dump of tables (largest first) for jobs processes:
// pre-data, data parts, the rest of the data, post-data, in restore
// order. A table of at least a target size (the total over jobs ×
// PartsPerJob) gets a part of its own; smaller ones are grouped, in
// size order, into parts of about the target size; what remains goes to
// the rest part. There are at most jobs × PartsPerJob data parts.
func PlanDump(tables []Table, jobs int) []DumpPart {
	jobs = max(jobs, 1)
	maxData := jobs * PartsPerJob
	var total int64
	for _, t := range tables {
		total += t.Bytes
	}
	target := total / int64(maxData)
	var groups [][]Table
	var current []Table
	var currentBytes int64
	for _, t := range tables {
		if len(groups) >= maxData-1 {
			break // every other table goes to the rest part
		}
		if len(current) == 0 && t.Bytes >= target {
			groups = append(groups, []Table{t})
			continue
		}
		current = append(current, t)
		currentBytes += t.Bytes
		if currentBytes >= target {
			groups, current, currentBytes = append(groups, current), nil, 0
		}
	}
	width := max(2, len(fmt.Sprint(len(groups)+2)))
	label := func(i int, section string) string { return fmt.Sprintf("%0*d-%s", width, i, section) }
	parts := []DumpPart{{Label: label(0, SectionPreData), Section: SectionPreData, RestorePhase: 0}}
	var named []Table
	for _, g := range groups {
		p := DumpPart{Label: label(len(parts), SectionData), Section: SectionData, RestorePhase: 1, Tables: g}
		for _, t := range g {
			p.Bytes += t.Bytes
		}
		named = append(named, g...)
		parts = append(parts, p)
	}
	rest := DumpPart{Label: label(len(parts), SectionData), Section: SectionData, RestorePhase: 1, Rest: true, Excluded: named, Bytes: total}
	for _, t := range named {
		rest.Bytes -= t.Bytes
	}
	parts = append(parts, rest)
	parts = append(parts, DumpPart{Label: label(len(parts), SectionPostData), Section: SectionPostData, RestorePhase: 2})
	return parts
}

// Args are the pg_dump arguments that make the part, from snapshot. The
// caller adds the format, compression and connection.
func (p DumpPart) Args(snapshot string) []string {
	args := []string{"--snapshot=" + snapshot, "--section=" + p.Section}
	if len(p.Tables) > 0 {
		// A table dropped after the snapshot fails the part rather than
		// leaving it out.
		args = append(args, "--strict-names")
	}
	for _, t := range p.Tables {
		args = append(args, "--table="+t.String())
	}
	for _, t := range p.Excluded {
		args = append(args, "--exclude-table-data="+t.String())
	}
	return args
}

// StartOrder returns the parts in the order to start them: largest
// estimate first, so that the longest dumps do not start last (the schema
// parts, estimated 0, last).
func StartOrder(parts []DumpPart) []DumpPart {
	out := slices.Clone(parts)
	slices.SortStableFunc(out, func(a, b DumpPart) int { return cmp.Compare(b.Bytes, a.Bytes) })
	return out
}
