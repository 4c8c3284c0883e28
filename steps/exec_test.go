package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func runExec(ctx context.Context, e *Exec) (map[string]any, error) {
	if e.StdoutLimit == 0 {
		e.StdoutLimit = 64 << 10
	}
	return e.Run(ctx, testStepContext("exec"))
}

func TestExecSuccess(t *testing.T) {
	dir := t.TempDir()
	out, err := runExec(context.Background(), &Exec{
		Command: Argv{`echo "$GREETING"; pwd`}, Shell: true,
		Env: map[string]string{"GREETING": "hello"}, Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out["stdout"] != "hello\n"+dir+"\n" || out["exit_code"] != int64(0) {
		t.Fatalf("outputs = %v", out)
	}
	if d, ok := out["duration"].(time.Duration); !ok || d <= 0 {
		t.Fatalf("duration = %v", out["duration"])
	}
	// An argv list is not interpreted by a shell.
	out, err = runExec(context.Background(), &Exec{Command: Argv{"echo", "$HOME", "a b"}})
	if err != nil || out["stdout"] != "$HOME a b\n" {
		t.Fatalf("argv: %v, %v", out, err)
	}
}

func TestExecFailure(t *testing.T) {
	script := "echo one >&2; echo two >&2; echo out; exit 3"
	out, err := runExec(context.Background(), &Exec{Command: Argv{script}, Shell: true})
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") || !strings.Contains(err.Error(), "one\ntwo") {
		t.Fatalf("error = %v, want exit code 3 and the stderr tail", err)
	}
	if out["exit_code"] != int64(3) || out["stdout"] != "out\n" {
		t.Fatalf("outputs = %v", out)
	}
	if _, err := runExec(context.Background(), &Exec{Command: Argv{"/no/such/program"}}); err == nil {
		t.Fatal("a missing program did not fail")
	}
}

func TestExecAllowedExitCode(t *testing.T) {
	out, err := runExec(context.Background(), &Exec{Command: Argv{"exit 2"}, Shell: true, AllowExitCodes: []int{1, 2}})
	if err != nil || out["exit_code"] != int64(2) {
		t.Fatalf("allowed exit code: %v, %v", out, err)
	}
}

func TestExecOutputLimits(t *testing.T) {
	out, err := runExec(context.Background(), &Exec{
		Command: Argv{"head -c 200000 /dev/zero | tr '\\0' a; printf 'x%.0s' $(seq 1 5000) >&2; echo END >&2"}, Shell: true, StdoutLimit: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out["stdout"] != "aaaaaaaaaa" || out["stderr"] != "xxxxxx"+"END\n" {
		t.Fatalf("stdout = %q, stderr = %q; want the first and last 10 bytes", out["stdout"], out["stderr"])
	}
}

// TestExecCancelKillsProcessGroup cancels a shell whose child sleeps and
// checks that the child died too.
func TestExecCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runExec(ctx, &Exec{Command: Argv{"sleep 60 & echo $! > " + pidFile + "; wait"}, Shell: true})
		done <- err
	}()
	var pid int
	for pid == 0 {
		select {
		case err := <-done:
			t.Fatalf("command ended before it was cancelled: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want it to say the command was cancelled", err)
	}
	// SIGKILL is delivered asynchronously; give it a moment.
	for i := 0; alive(pid); i++ {
		if i == 200 {
			t.Fatalf("child process %d survived the cancellation", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs. A zombie (killed, not yet reaped by
// whoever adopted it) does not count.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(string(stat[i+1:]), " Z")
}

func TestExecValidate(t *testing.T) {
	for _, e := range []*Exec{
		{},
		{Command: Argv{"echo", "a"}, Shell: true},
		{Command: Argv{"true"}, StdoutLimit: -1},
	} {
		if err := e.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", e)
		}
	}
}

func TestArgvYAML(t *testing.T) {
	var p struct {
		A Argv `yaml:"a"`
		B Argv `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: echo hi | wc\nb: [pg_isready, -h, db]\n"), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.A) != 1 || p.A[0] != "echo hi | wc" || strings.Join(p.B, ",") != "pg_isready,-h,db" {
		t.Fatalf("decoded %q and %q", p.A, p.B)
	}
	if err := yaml.Unmarshal([]byte("a: {x: 1}\n"), &p); err == nil {
		t.Fatal("a mapping decoded as a command")
	}
}
