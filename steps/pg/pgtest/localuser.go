package pgtest

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
)

// OtherUser returns the credential of the local user "nobody", for tests
// that play another user of the machine. Switching users needs root: without
// it the test skips with the reason (in CI, where tests run as root, it
// fails instead).
func OtherUser(t testing.TB) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup("nobody")
	switch {
	case err != nil:
		missingUser(t, "there is no local user nobody: "+err.Error())
	case os.Geteuid() != 0:
		missingUser(t, "playing another local user needs root")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

func missingUser(t testing.TB, why string) {
	t.Helper()
	testenv.SkipUnlessCI(t, "pgtest: %s", why)
}

// RunAs runs name with args as cred, with an environment that holds nothing
// of this process's (no PG* variables, no HOME with a .pgpass), and returns
// its combined output and error.
func RunAs(cred *syscall.Credential, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "PGCONNECT_TIMEOUT=5"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Running is a PostgreSQL server started by this process, as another local
// user could find it: its port, socket folder and data folder.
type Running struct {
	Port      int
	SocketDir string
	DataDir   string
}

// RunningServers returns the PostgreSQL servers that are children of this
// process (throwaway clusters), read from /proc and their postmaster.pid.
func RunningServers(t testing.TB) []Running {
	t.Helper()
	var out []Running
	for _, pid := range ChildPIDs(t, "postgres") {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] != "-D" {
				continue
			}
			// postmaster.pid: pid, data dir, start time, port, socket dir, ...
			pm, err := os.ReadFile(filepath.Join(args[i+1], "postmaster.pid"))
			lines := strings.Split(string(pm), "\n")
			if err != nil || len(lines) < 5 {
				continue
			}
			port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
			out = append(out, Running{Port: port, SocketDir: strings.TrimSpace(lines[4]), DataDir: args[i+1]})
		}
	}
	return out
}
