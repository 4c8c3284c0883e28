package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RunFolder is one folder under <state dir>/runs: a run with its report,
// or a folder without a readable report (a run still going or killed, or
// another record such as a fleet's; Report is then nil).
type RunFolder struct {
	ID     string
	Report *Report // nil when the folder holds no readable report.json
	// Started is the report's start time; without a report, the time
	// encoded in an id made by NewRunID, else the folder's modification
	// time.
	Started time.Time
}

// ListRunFolders returns the folders under stateDir's runs folder, newest
// first (by Started, then by id). An absent runs folder is an empty list.
func ListRunFolders(stateDir string) ([]RunFolder, error) {
	runs := filepath.Join(stateDirOrDefault(stateDir), "runs")
	entries, err := os.ReadDir(runs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	var out []RunFolder
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		f := RunFolder{ID: e.Name()}
		if rep, err := ReadReport(filepath.Join(runs, e.Name(), ReportFile)); err == nil {
			f.Report, f.Started = rep, rep.Started
		} else if at, err := time.Parse("20060102T150405Z", strings.SplitN(e.Name(), "-", 2)[0]); err == nil {
			f.Started = at
		} else if info, err := e.Info(); err == nil {
			f.Started = info.ModTime().UTC()
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// ResolveRunID returns the id of the run folder under stateDir that arg
// names: its whole id, or a prefix only one id starts with. A prefix of
// several ids is an error listing them.
func ResolveRunID(stateDir, arg string) (string, error) {
	if err := checkRunID(arg); err != nil {
		return "", err
	}
	if st, err := os.Stat(RunDir(stateDir, arg)); err == nil && st.IsDir() {
		return arg, nil
	}
	folders, err := ListRunFolders(stateDir)
	if err != nil {
		return "", err
	}
	var matches []string
	for _, f := range folders {
		if strings.HasPrefix(f.ID, arg) {
			matches = append(matches, f.ID)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no run %q in %s: 'sluice runs' lists the recorded runs", arg, filepath.Join(stateDirOrDefault(stateDir), "runs"))
	case 1:
		return matches[0], nil
	}
	const shown = 10
	list := strings.Join(matches[:min(len(matches), shown)], ", ")
	if len(matches) > shown {
		list += fmt.Sprintf(" and %d more", len(matches)-shown)
	}
	return "", fmt.Errorf("run id prefix %q is ambiguous: %d runs start with it (%s): give more of the id", arg, len(matches), list)
}

func stateDirOrDefault(s string) string {
	if s == "" {
		return DefaultStateDir
	}
	return s
}
