package pg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// libDirs is where Debian and Ubuntu install each PostgreSQL major version.
var libDirs = "/usr/lib/postgresql/*/bin"

// Tool is one PostgreSQL program found on this machine.
type Tool struct {
	Name    string // e.g. "pg_dump"
	Path    string // absolute path, symlinks resolved
	Version Version
}

// Version is a PostgreSQL version as printed by `--version` or reported by a
// server.
type Version struct {
	Major int    // 15 for 15.13; 9 for 9.6.24
	Minor int    // 13 for 15.13; 6 for 9.6.24 (the second part of a 9.x major)
	Text  string // as printed, e.g. "15.13"
}

// MajorKey orders major versions: 15 -> 1500, 9.6 -> 906.
func (v Version) MajorKey() int {
	if v.Major >= 10 {
		return v.Major * 100
	}
	return v.Major*100 + v.Minor
}

// MajorString is the major version as PostgreSQL names it: "15" or "9.6".
func (v Version) MajorString() string {
	if v.Major >= 10 {
		return strconv.Itoa(v.Major)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

var versionRE = regexp.MustCompile(`(\d+)(?:\.(\d+))?`)

// ParseVersion reads a version such as "15.13", "16beta1" or the output of
// `pg_dump --version` ("pg_dump (PostgreSQL) 15.13 (Debian 15.13-1)").
func ParseVersion(s string) (Version, error) {
	if i := strings.Index(s, ")"); strings.Contains(s, "(PostgreSQL)") && i >= 0 {
		s = s[i+1:]
	}
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("no version number in %q", strings.TrimSpace(s))
	}
	v := Version{Text: m[0]}
	v.Major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		v.Minor, _ = strconv.Atoi(m[2])
	}
	return v, nil
}

// VersionFromNum converts server_version_num (150013, 90624) to a Version.
func VersionFromNum(num int) Version {
	if num >= 100000 {
		v := Version{Major: num / 10000, Minor: num % 10000}
		v.Text = fmt.Sprintf("%d.%d", v.Major, v.Minor)
		return v
	}
	v := Version{Major: num / 10000, Minor: num / 100 % 100}
	v.Text = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, num%100)
	return v
}

// ErrNotInstalled is wrapped by FindTool's error when no copy of a program
// exists at all.
var ErrNotInstalled = errors.New("not installed")

// FindTools returns every copy of program name on this machine (under
// /usr/lib/postgresql/*/bin and on PATH), newest version first.
func FindTools(name string) []Tool {
	var cands []string
	dirs, _ := filepath.Glob(libDirs)
	for _, d := range dirs {
		cands = append(cands, filepath.Join(d, name))
	}
	if p, err := exec.LookPath(name); err == nil {
		cands = append(cands, p)
	}
	seen := map[string]bool{}
	var tools []Tool
	for _, c := range cands {
		p, err := filepath.EvalSymlinks(c)
		if err != nil || seen[p] {
			continue
		}
		seen[p] = true
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			continue // e.g. Debian's pg_wrapper without a default version
		}
		v, err := ParseVersion(string(out))
		if err != nil {
			continue
		}
		tools = append(tools, Tool{Name: name, Path: p, Version: v})
	}
	sort.SliceStable(tools, func(i, j int) bool {
		a, b := tools[i].Version, tools[j].Version
		if a.MajorKey() != b.MajorKey() {
			return a.MajorKey() > b.MajorKey()
		}
		return a.Minor > b.Minor
	})
	return tools
}

// FindTool returns the newest copy of program name whose major version is
// at least min (a zero Version accepts any). pkg names the package that
// provides it, for the install hint.
func FindTool(name, pkg string, min Version) (Tool, error) {
	tools := FindTools(name)
	if len(tools) == 0 {
		return Tool{}, fmt.Errorf("%s %w: install it with `apt-get install %s` (or put it on PATH)", name, ErrNotInstalled, pkg)
	}
	best := tools[0]
	if min.Major != 0 && best.Version.MajorKey() < min.MajorKey() {
		return Tool{}, fmt.Errorf("%s %s is older than the server (%s): install %s for PostgreSQL %s (e.g. `apt-get install %s-%s` from apt.postgresql.org)",
			name, best.Version.Text, min.Text, pkg, min.MajorString(), pkg, min.MajorString())
	}
	return best, nil
}

// serverBinDir returns the newest directory that holds both initdb and
// postgres.
func serverBinDir() (string, Version, error) {
	for _, t := range FindTools("initdb") {
		dir := filepath.Dir(t.Path)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, t.Version, nil
		}
	}
	return "", Version{}, fmt.Errorf("PostgreSQL server programs (initdb, postgres) %w: install them with `apt-get install postgresql`", ErrNotInstalled)
}
