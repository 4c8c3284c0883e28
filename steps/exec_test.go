package steps

import (
	"context"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func runExec(ctx context.Context, e *Exec) (map[string]any, error) {
	if e.StdoutLimit == 0 {
		e.StdoutLimit = 64 << 10
	}
	sc := testStepContext("exec")
	sc.Expand = func(s string) (string, error) { return s, nil } // nothing to expand
	return e.Run(ctx, sc)
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
