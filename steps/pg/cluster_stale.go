package pg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// ownerFile, in a cluster's folder, names the process that started it: its
// pid and its start time (so that a reused pid is not taken for it).
const ownerFile = "owner"

// clusterTempDir is the folder throwaway clusters are created in.
func clusterTempDir() string {
	tmp := os.TempDir()
	if len(tmp) > 60 { // unix socket paths are limited to about 100 bytes
		tmp = "/tmp"
	}
	return tmp
}

// writeOwner records this process as the owner of the cluster folder base.
func writeOwner(base string) error {
	start, ok := processStart(os.Getpid())
	if !ok {
		return nil // no /proc: stale clusters cannot be told apart, none is removed
	}
	data := fmt.Sprintf("%d %d\n", os.Getpid(), start)
	if err := os.WriteFile(filepath.Join(base, ownerFile), []byte(data), 0o600); err != nil {
		return fmt.Errorf("recording the cluster's owner: %w", err)
	}
	return nil
}

// removeStaleClusters removes the throwaway clusters in tmp whose owning
// process is gone (a sluice killed with SIGKILL cannot remove its own; the
// folder keeps the seeded or restored database). It touches only folders
// this user may own: the folder belongs to this user or to the server's,
// and its owner file, written by this user, names a process that no longer
// runs. A server still running there is killed first.
func removeStaleClusters(tmp string, cred *syscall.Credential, logger hclog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "sluice-pg-*"))
	for _, dir := range dirs {
		if !staleCluster(dir, cred) {
			continue
		}
		killServer(filepath.Join(dir, "data"))
		if err := os.RemoveAll(dir); err != nil {
			logger.Warn("could not remove a stale throwaway cluster", "dir", dir, "error", err)
			continue
		}
		logger.Info("removed a throwaway cluster left by a sluice that was killed", "dir", dir)
	}
}

// staleCluster reports whether dir is a cluster folder of this user whose
// owner has ended.
func staleCluster(dir string, cred *syscall.Credential) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || !ownedBy(fi, cred) {
		return false
	}
	of, err := os.Lstat(filepath.Join(dir, ownerFile))
	if err != nil || !of.Mode().IsRegular() || !ownedBy(of, nil) {
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(data), "%d %d", &pid, &start); err != nil || pid <= 0 {
		return false
	}
	now, alive := processStart(pid)
	return !alive || now != start
}

// ownedBy reports whether fi belongs to this process's user or, when cred
// is set, to the server's user.
func ownedBy(fi os.FileInfo, cred *syscall.Credential) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return int(st.Uid) == os.Geteuid() || cred != nil && st.Uid == cred.Uid
}

// killServer kills the postmaster of dataDir if one still runs (it should
// have died with its owner) and is what postmaster.pid says it is.
func killServer(dataDir string) {
	data, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || !strings.Contains(string(cmdline), "\x00-D\x00"+dataDir+"\x00") {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// processStart returns when process pid started (clock ticks since boot,
// from /proc) and whether it runs.
func processStart(pid int) (uint64, bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...: comm may hold spaces; starttime is field 22.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	return start, err == nil
}
