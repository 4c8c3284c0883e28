// Package testenv is what sluice's tests share about where they run: a
// test that lacks a tool or a service skips on a developer's machine and
// fails in CI (CI=true), where scripts/install-test-deps.sh installs
// everything; and a test that waits for something waits with a deadline.
// It imports nothing of sluice, so every package's tests may use it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CI reports whether the tests run in CI (the environment variable CI is
// "true"), where no test may be skipped for want of a tool or service.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipUnlessCI stops the test for want of what the message names: it skips
// with the message, except in CI, where it fails with it.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s: required in CI (CI=true)", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// LookPath returns the path of the program name, or stops the test with
// SkipUnlessCI when it is not installed; hint says where it comes from,
// e.g. "apt-get install libxml2-utils".
func LookPath(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		SkipUnlessCI(t, "%s is not installed (%s)", name, hint)
	}
	return path
}

// WaitFor calls cond every interval until it returns true, and fails the
// test when timeout passes first, saying what it waited for. A timeout
// generous for a loaded machine costs nothing when all goes well.
func WaitFor(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// Alive reports whether process pid runs. A zombie (ended, not yet reaped
// by its parent) does not count.
func Alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(string(stat[i+1:]), " Z")
}
