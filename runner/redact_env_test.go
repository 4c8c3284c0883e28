package runner

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestIsSecretEnvName(t *testing.T) {
	for name, want := range map[string]bool{
		"PGPASSWORD": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
		"SLUICE_S3_SECRET_KEY": true, "MINIO_ROOT_PASSWORD": true, "GITHUB_TOKEN": true,
		"db_password": true, "OPENAI_API_KEY": true, "AGE_PASSPHRASE": true, "MYSQL_PWD": true,
		"AWS_ACCESS_KEY_ID": false, "TOKENIZERS_PARALLELISM": false, "PGPASSFILE": false,
		"PATH": false, "HOME": false, "SLUICE_S3_ENDPOINT": false, "DB_PASSWORD_FILE": false,
	} {
		if got := IsSecretEnvName(name); got != want {
			t.Errorf("IsSecretEnvName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestEnvSecrets is the finding "secrets outside params" at the source:
// the secrets of the environment, by name and inside URLs, become secrets
// of the run; short ones are named, not returned.
func TestEnvSecrets(t *testing.T) {
	got, short := EnvSecrets([]string{
		"PGPASSWORD=pgPa55word42",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG",
		"DATABASE_URL=postgres://app:p%40ss%2Fword@db/app",
		"PGDSN=host=db user=app password='it\\'s a secret'",
		"API_TOKEN=abc",
		"DEPLOY_TOKEN=",
		"TOKENIZERS_PARALLELISM=false",
		"HOME=/root",
	})
	want := []string{"it's a secret", "p@ss/word", "pgPa55word42", "wJalrXUtnFEMIK7MDENG"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secrets = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(short, []string{"API_TOKEN"}) {
		t.Errorf("too short = %q", short)
	}
}

// TestValueSecretsMapKeys finds the password of a connection string that a
// map param holds as a key (a for_each shows keys as item names), as well
// as in its values and lists.
func TestValueSecretsMapKeys(t *testing.T) {
	got := ValueSecrets(map[string]any{
		"dbs":  map[string]any{"postgres://app:KeyPassw0rd@db1/shop": "nightly", "crm": "postgres://app:ValPassw0rd@db2/crm"},
		"urls": []any{"s3://KEY:ListSecr3t@bucket/x"},
	})
	want := []string{"KeyPassw0rd", "ListSecr3t", "ValPassw0rd"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secrets = %q, want %q", got, want)
	}
}

// TestRedactURLPasswords masks passwords the redactor was never told about,
// found by their syntax, in the shapes errors and logs give them.
func TestRedactURLPasswords(t *testing.T) {
	r := NewRedactor()
	cases := map[string]string{
		`storage URL "s3://KEY:SECRET@bucket/x" is bad`:         `storage URL "s3://KEY:***@bucket/x" is bad`,
		"postgres://postgres:Qx?7s3cr3t@127.0.0.1:5432/app":     "postgres://postgres:***@127.0.0.1:5432/app",
		"postgres://u:p@ss@h/db?email=a@b":                      "postgres://u:***@h/db?email=a@b",
		"postgres://u:p/ss@h/db":                                "postgres://u:***@h/db",
		`"postgres://u:p\"w@h/db"`:                              `"postgres://u:***@h/db"`,
		"host=db password=s3cr3t user=app":                      "host=db password=*** user=app",
		"host=db password='a b\\'c' user=app":                   "host=db password=*** user=app",
		"postgres://h/db?sslmode=require&password=s3cr3t&x=1":   "postgres://h/db?sslmode=require&password=***&x=1",
		"PGPASSWORD=s3cr3t\nNEXT=1":                             "PGPASSWORD=***\nNEXT=1",
		`{"user":"app","password": "s3\"cr3t","db":"x"}`:        `{"user":"app","password": "***","db":"x"}`,
		"see postgres://host/db and mail me@example.com":        "see postgres://host/db and mail me@example.com",
		"file://./backups/a:b@c s3://bucket/a:b@c":              "file://./backups/a:b@c s3://bucket/a:b@c",
		"the password is required; set password: in the config": "the password is required; set password: in the config",
	}
	for in, want := range cases {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestRunMasksEnvSecrets runs a plan whose step returns environment
// secrets and a URL password from a param that is not declared secret.
func TestRunMasksEnvSecrets(t *testing.T) {
	rep, err := runPlan(t, context.Background(), `
version: 1
params:
  dest: {type: string}
steps:
  a:
    type: act
    with: {value: "${{ env.PGPASSWORD }} ${{ params.dest }}"}
    assert: [{that: 'steps.a.value != "" && env.PGPASSWORD != ""'}]
`, RunOptions{
		Params:  map[string]any{"dest": "s3://KEY:destS3cret@bucket/x"},
		Environ: []string{"PGPASSWORD=pgPa55word42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep)
	if s := string(b); strings.Contains(s, "pgPa55word42") || strings.Contains(s, "destS3cret") || !strings.Contains(s, "env.PGPASSWORD = \\\"***\\\"") {
		t.Errorf("report leaks or lacks the gate's operands: %s", s)
	}
}
