package pg

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestClientCmdKeepsSecretsOffTheCommandLine checks where ClientCmd puts
// each secret: the password in PGPASSWORD, the client key's passphrase in a
// 0600 service file in a 0700 folder (libpq has no variable for it), and
// neither in the arguments.
func TestClientCmdKeepsSecretsOffTheCommandLine(t *testing.T) {
	t.Setenv("PGPASSFILE", "/nonexistent")
	cmd, cleanup, err := ClientCmd(context.Background(), Tool{Path: "/bin/true"},
		"postgres://app:Qx?7s3cr3t@db/app?sslmode=verify-full&sslpassword=k%20phrase", "--format=custom")
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(cmd.Args, " ")
	if strings.Contains(args, "s3cr3t") || strings.Contains(args, "phrase") || !strings.Contains(args, "--dbname=postgres://app@db/app?sslmode=verify-full&service=sluice") {
		t.Errorf("arguments %q", args)
	}
	env := map[string]string{}
	for _, kv := range cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["PGPASSWORD"] != "Qx?7s3cr3t" {
		t.Errorf("PGPASSWORD = %q", env["PGPASSWORD"])
	}
	file := env["PGSERVICEFILE"]
	data, err := os.ReadFile(file)
	if err != nil || string(data) != "[sluice]\nsslpassword=k phrase\n" {
		t.Fatalf("service file %s: %q, %v", file, data, err)
	}
	for path, want := range map[string]os.FileMode{file: 0o600, file[:strings.LastIndexByte(file, '/')]: 0o700 | os.ModeDir} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode(), err, want)
		}
	}
	cleanup()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("service file left behind: %v", err)
	}

	if _, _, err := ClientCmd(context.Background(), Tool{Path: "/bin/true"}, "postgres://app:p@zz@db/app"); err == nil || strings.Contains(err.Error(), "zz") {
		t.Errorf("ambiguous DSN: %v", err)
	}
}
