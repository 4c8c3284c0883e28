package pg

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
)

func TestFindToolMissing(t *testing.T) {
	old := libDirs
	libDirs = t.TempDir() + "/*/bin"
	t.Cleanup(func() { libDirs = old })
	t.Setenv("PATH", t.TempDir())
	_, err := FindTool("pg_dump", "postgresql-client", Version{})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install postgresql-client") {
		t.Errorf("FindTool without pg_dump = %v, want ErrNotInstalled with the install hint", err)
	}
	if _, _, err := serverBinDir(); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("serverBinDir without PostgreSQL = %v", err)
	}
}

func TestIntegrationFindToolVersions(t *testing.T) {
	tools := FindTools("pg_dump")
	if len(tools) == 0 {
		testenv.SkipUnlessCI(t, "pg_dump is not installed (this test needs a real pg_dump)")
	}
	for i := 1; i < len(tools); i++ {
		if tools[i].Version.MajorKey() > tools[i-1].Version.MajorKey() {
			t.Errorf("tools not newest first: %+v", tools)
		}
	}
	newest := tools[0]
	got, err := FindTool("pg_dump", "postgresql-client", newest.Version)
	if err != nil || got.Path != newest.Path {
		t.Errorf("FindTool(min = newest) = %+v, %v", got, err)
	}
	future := Version{Major: newest.Version.Major + 1, Text: "99.1"}
	_, err = FindTool("pg_dump", "postgresql-client", future)
	if err == nil || !strings.Contains(err.Error(), "is older than the server (99.1)") {
		t.Errorf("FindTool(min newer than installed) = %v, want an older-than-server error", err)
	}
}
