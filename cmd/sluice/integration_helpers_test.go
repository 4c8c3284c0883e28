package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/pg"
)

// cliResult is what one in-process sluice invocation printed and returned.
type cliResult struct {
	code           int
	stdout, stderr string
}

// sluiceCLI runs the sluice CLI in this process, in the current working
// directory, as a user would type it.
func sluiceCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := sluiceMain(args, &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustSluice runs the CLI and fails the test unless it exits 0.
func mustSluice(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := sluiceCLI(t, args...)
	if r.code != exitOK {
		t.Fatalf("sluice %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// repoRoot is the repository's root, resolved before any test changes the
// working directory.
var repoRoot, repoRootErr = filepath.Abs(filepath.Join("..", ".."))

// repoFile returns the absolute path of a file of the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	if repoRootErr != nil {
		t.Fatal(repoRootErr)
	}
	return filepath.Join(repoRoot, filepath.FromSlash(rel))
}

// requireTools skips the test (fails it when CI=true) unless every program
// is on PATH, and returns their paths.
func requireTools(t *testing.T, names ...string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			testenv.SkipUnlessCI(t, "%s is not installed (scripts/install-test-deps.sh installs it): %v", n, err)
		}
		paths[n] = p
	}
	return paths
}

// requirePGTool finds a PostgreSQL client program on PATH or under
// /usr/lib/postgresql/*/bin.
func requirePGTool(t *testing.T, name string) string {
	t.Helper()
	tool, err := pg.FindTool(name, "postgresql-client", pg.Version{})
	if err != nil {
		testenv.SkipUnlessCI(t, "%s is not installed (scripts/install-test-deps.sh installs it): %v", name, err)
	}
	return tool.Path
}

// filesUnder lists the regular files under dir, relative and sorted; a
// missing dir has none.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// userTables counts the user tables of the database at dsn; a database that
// does not exist has none.
func userTables(t *testing.T, c *pg.Cluster, db string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pg.Connect(ctx, c.DSN(db))
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0
		}
		t.Fatalf("connecting to %s: %v", db, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, pg.UserTablesQuery).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// run runs a program and fails the test with its output when it fails.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyFile copies src to dst (mode 0644).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipByte flips one bit of the byte at offset (from the end when
// negative).
func flipByte(t *testing.T, path string, offset int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if offset < 0 {
		offset += len(data)
	}
	data[offset] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bashOutput runs a bash script with positional arguments.
func bashOutput(script string, args ...string) (string, error) {
	out, err := exec.Command("bash", append([]string{"-c", script, "script"}, args...)...).CombinedOutput()
	return string(out), err
}
