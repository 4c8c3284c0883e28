package latency

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// FileFormat and FileVersion identify a measure results file. Version 1 is
// the only version; a reader refuses newer ones.
const (
	FileFormat  = "sluice-measure"
	FileVersion = 1
)

// File is the versioned JSON record of one measure run: what measure saves
// (save: FILE) and what assert-overhead compares. Durations are
// milliseconds.
type File struct {
	Format         string             `json:"format"`
	Version        int                `json:"version"`
	SluiceVersion  string             `json:"sluice_version"`
	Created        time.Time          `json:"created"`
	Host           string             `json:"host"`
	Plan           string             `json:"plan,omitempty"`
	Step           string             `json:"step,omitempty"`
	Settings       Settings           `json:"settings"`
	ServerVersions map[string]string  `json:"server_versions"` // per target
	Order          [][]string         `json:"order"`           // targets in the order each round ran them
	Targets        map[string]*Target `json:"targets"`
}

// Settings are the measure parameters that shaped the numbers.
type Settings struct {
	Mode           string      `json:"mode"`
	Rounds         int         `json:"rounds"`
	Iterations     int         `json:"iterations,omitempty"`
	Duration       string      `json:"duration,omitempty"` // per target per round
	Warmup         int         `json:"warmup"`
	Concurrency    int         `json:"concurrency"`
	IncludeConnect bool        `json:"include_connect"`
	Queries        []QueryInfo `json:"queries"`
}

// QueryInfo names one measured query.
type QueryInfo struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// Target is the record of one target.
type Target struct {
	Summary   Stats                 `json:"summary"`
	Histogram []Bucket              `json:"histogram"`
	Queries   map[string]*QueryData `json:"queries"`
}

// QueryData is the record of one query on one target: its overall
// statistics and one Stats per round, in round order.
type QueryData struct {
	Summary Stats   `json:"summary"`
	Rounds  []Stats `json:"rounds"`
}

// QueryNames returns the query names in settings order.
func (f *File) QueryNames() []string {
	out := make([]string, len(f.Settings.Queries))
	for i, q := range f.Settings.Queries {
		out[i] = q.Name
	}
	return out
}

// TargetNames returns the target names, sorted.
func (f *File) TargetNames() []string {
	out := make([]string, 0, len(f.Targets))
	for t := range f.Targets {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Save writes f to path atomically (a temporary file renamed into place),
// creating the directory.
func (f *File) Save(path string) error {
	f.Format, f.Version = FileFormat, FileVersion
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("saving measure results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("saving measure results: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".measure-*.json")
	if err != nil {
		return fmt.Errorf("saving measure results: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("saving measure results to %s: %w", path, err)
	}
	return nil
}

// Load reads and checks a results file written by Save.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading measure results: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reading measure results %s: not valid JSON: %w", path, err)
	}
	switch {
	case f.Format != FileFormat:
		return nil, fmt.Errorf("reading measure results %s: format %q is not %q (is it a file saved by measure?)", path, f.Format, FileFormat)
	case f.Version > FileVersion || f.Version < 1:
		return nil, fmt.Errorf("reading measure results %s: version %d is not supported (this sluice reads version %d; upgrade sluice)", path, f.Version, FileVersion)
	case len(f.Targets) == 0:
		return nil, fmt.Errorf("reading measure results %s: no targets", path)
	}
	for name, t := range f.Targets {
		if t == nil || len(t.Queries) == 0 {
			return nil, fmt.Errorf("reading measure results %s: target %q has no queries", path, name)
		}
	}
	return &f, nil
}

// RoundValues returns stat of every query of target t, one row per query
// of names and one column per round.
func (f *File) RoundValues(target string, names []string, stat string) ([][]float64, error) {
	t, ok := f.Targets[target]
	if !ok {
		return nil, fmt.Errorf("no target %q (have %v)", target, f.TargetNames())
	}
	out := make([][]float64, len(names))
	for i, q := range names {
		qd, ok := t.Queries[q]
		if !ok {
			return nil, fmt.Errorf("target %q has no query %q", target, q)
		}
		for _, s := range qd.Rounds {
			v, ok := s.Get(stat)
			if !ok {
				return nil, errors.New("unknown statistic " + stat)
			}
			out[i] = append(out[i], v)
		}
	}
	return out, nil
}
