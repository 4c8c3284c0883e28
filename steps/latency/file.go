package latency

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// FileFormat and FileVersion identify a measure results file. Version 2
// keeps every sample (version 1 kept statistics per round only, too little
// to compare); a reader refuses other versions.
const (
	FileFormat  = "sluice-measure"
	FileVersion = 2
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
	Targets        map[string]*Target `json:"targets"`
	Run            RunInfo            `json:"run"`
}

// RunInfo is how the measurement went: how long it took, why it stopped
// and, when it measured until a gate was decided, the looks it took.
type RunInfo struct {
	Seconds float64 `json:"seconds"` // from the first connection to the end
	Rounds  int     `json:"rounds"`  // rounds measured
	// Stopped says why measuring ended: "decided" (the until gate had its
	// verdict), "budget" (max_duration was spent) or "rounds" (every
	// planned round ran).
	Stopped string `json:"stopped"`
	Until   *Until `json:"until,omitempty"`
	Looks   []Look `json:"looks,omitempty"`
}

// Stop reasons of RunInfo.Stopped.
const (
	StoppedDecided = "decided"
	StoppedBudget  = "budget"
	StoppedRounds  = "rounds"
)

// Until is the gate a measurement ran until it was decided.
type Until struct {
	Baseline   string   `json:"baseline"`
	Candidate  string   `json:"candidate"`
	Stats      []string `json:"stats"`
	Max        float64  `json:"max"`
	Confidence float64  `json:"confidence"`
	PerQuery   bool     `json:"per_query,omitempty"`
}

// Gate returns the gate of u.
func (u *Until) Gate() Gate {
	return Gate{Stats: u.Stats, Max: u.Max, Confidence: u.Confidence, PerQuery: u.PerQuery}
}

// Look is one look of a sequential gate: after how many rounds, the share
// of the error rate it spent, and the verdict it found.
type Look struct {
	Rounds  int     `json:"rounds"`
	Share   float64 `json:"share"`
	Verdict Verdict `json:"verdict"`
}

// Share returns the share of the error rate that a judgement of the whole
// file may spend: the last look's, or all of it when the measurement did
// not look along the way.
func (r RunInfo) Share() float64 {
	if len(r.Looks) == 0 {
		return 1
	}
	return r.Looks[len(r.Looks)-1].Share
}

// Settings are the measure parameters that shaped the numbers.
type Settings struct {
	Mode           string      `json:"mode"`
	Rounds         int         `json:"rounds"` // planned
	Iterations     int         `json:"iterations,omitempty"`
	MaxDuration    string      `json:"max_duration"`
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
// statistics, one Stats per round, in round order, and every sample of
// every round (milliseconds, in the order they were taken).
type QueryData struct {
	Summary Stats       `json:"summary"`
	Rounds  []Stats     `json:"rounds"`
	Samples [][]float64 `json:"samples"`
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
	return slices.Sorted(maps.Keys(f.Targets))
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
	case f.Version == 1:
		return nil, fmt.Errorf("reading measure results %s: version 1 keeps no samples, only statistics per round; measure again with this sluice", path)
	case f.Version != FileVersion:
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

// Series returns the samples of target for each query of names, one
// series per query.
func (f *File) Series(target string, names []string) ([]*Series, error) {
	t, ok := f.Targets[target]
	if !ok {
		return nil, fmt.Errorf("no target %q (have %v)", target, f.TargetNames())
	}
	out := make([]*Series, len(names))
	for i, q := range names {
		qd, ok := t.Queries[q]
		if !ok {
			return nil, fmt.Errorf("target %q has no query %q", target, q)
		}
		out[i] = NewSeries(qd.Samples...)
	}
	return out, nil
}
