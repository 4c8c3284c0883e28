package pg_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// helperEnv makes the test binary play a sluice that starts a throwaway
// cluster, prints its folder and waits to be killed.
const helperEnv = "SLUICE_PG_TEST_HOLD_CLUSTER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		c, err := pg.StartCluster(context.Background(), pg.Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(filepath.Dir(c.DataDir))
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

// TestIntegrationStaleClusterRemovedAtNextStart plays the review's
// leftover: a process holding a throwaway cluster is killed with SIGKILL, so
// its sluice-pg-* folder (with the seeded or restored database) stays in the
// temporary folder. The next cluster start removes it, and leaves alone the
// cluster of a process that still runs.
func TestIntegrationStaleClusterRemovedAtNextStart(t *testing.T) {
	live := pgtest.Start(t, pg.Options{}) // owned by this test process, which runs on

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	dir := strings.TrimSpace(line)
	if err != nil || !strings.Contains(dir, "sluice-pg-") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper did not start a cluster: %q, %v", line, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // only if the test fails
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("the killed process's cluster is not there to clean: %v", err)
	}

	pgtest.Start(t, pg.Options{})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the stale cluster %s is still there after the next start: %v", dir, err)
	}
	if err := live.Exec(context.Background(), "postgres", "SELECT 1"); err != nil {
		t.Errorf("the running cluster of a live process was disturbed: %v", err)
	}
}
