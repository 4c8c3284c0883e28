package blob_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
)

// cleanS3Env clears every setting S3ConfigFromEnv reads and points the
// shared config file at path ("" for none).
func cleanS3Env(t *testing.T, path string) {
	for _, k := range []string{"SLUICE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
		"SLUICE_S3_PATH_STYLE", "SLUICE_S3_PART_SIZE", "SLUICE_S3_PARTS_IN_FLIGHT", "SLUICE_S3_RETRIES", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	if path == "" {
		path = filepath.Join(t.TempDir(), "none")
	}
	t.Setenv("AWS_CONFIG_FILE", path)
}

func TestS3ConfigPrecedence(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "config")
	os.WriteFile(conf, []byte("[default]\nregion = eu-west-1\n\n[profile backup]\nregion = ca-central-1\nendpoint_url = https://profile.example:9000\n"), 0o600)
	cleanS3Env(t, conf)
	get := func(q string) blob.S3Config {
		t.Helper()
		v, _ := url.ParseQuery(q)
		cfg, err := blob.S3ConfigFromEnv(v)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if cfg := get(""); cfg.Region != "eu-west-1" || cfg.Endpoint != "" {
		t.Errorf("default profile: %+v", cfg)
	}
	t.Setenv("AWS_PROFILE", "backup")
	if cfg := get(""); cfg.Region != "ca-central-1" || cfg.Endpoint != "https://profile.example:9000" {
		t.Errorf("profile backup: %+v", cfg)
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://generic:1")
	t.Setenv("AWS_DEFAULT_REGION", "r-default")
	if cfg := get(""); cfg.Endpoint != "http://generic:1" || cfg.Region != "r-default" {
		t.Errorf("AWS_ENDPOINT_URL, AWS_DEFAULT_REGION: %+v", cfg)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://s3only:2")
	t.Setenv("AWS_REGION", "r-env")
	if cfg := get(""); cfg.Endpoint != "http://s3only:2" || cfg.Region != "r-env" {
		t.Errorf("AWS_ENDPOINT_URL_S3, AWS_REGION: %+v", cfg)
	}
	t.Setenv("SLUICE_S3_ENDPOINT", "http://sluice:3")
	t.Setenv("SLUICE_S3_PATH_STYLE", "true")
	t.Setenv("SLUICE_S3_PART_SIZE", "8MiB")
	t.Setenv("SLUICE_S3_PARTS_IN_FLIGHT", "3")
	if cfg := get(""); cfg.Endpoint != "http://sluice:3" || !cfg.PathStyle || cfg.PartSize != 8<<20 || cfg.PartsInFlight != 3 {
		t.Errorf("SLUICE_S3_*: %+v", cfg)
	}
	cfg := get("endpoint=https://query:4&region=r-query&path_style=false&part_size=32MiB&parts_in_flight=2")
	if cfg.Endpoint != "https://query:4" || cfg.Region != "r-query" || cfg.PathStyle || cfg.PartSize != 32<<20 || cfg.PartsInFlight != 2 {
		t.Errorf("URL query: %+v", cfg)
	}
}

func TestOpenS3URL(t *testing.T) {
	cleanS3Env(t, "")
	t.Setenv("SLUICE_S3_ENDPOINT", "http://127.0.0.1:9")
	b, name, err := blob.Open("s3://bkt/nightly/2026/app.dump.age?path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	if name != "app.dump.age" || b.URL(name) != "s3://bkt/nightly/2026/app.dump.age" || b.URL(name+".sha256") != "s3://bkt/nightly/2026/app.dump.age.sha256" {
		t.Errorf("Open: name %q, URL %q", name, b.URL(name))
	}
	b, name, err = blob.Open("s3://bkt/top.age")
	if err != nil || name != "top.age" || b.URL(name) != "s3://bkt/top.age" {
		t.Errorf("Open at the bucket's top: %q %v", name, err)
	}
	root, err := blob.OpenRoot("s3://bkt/nightly/")
	if err != nil || root.URL("2026/x") != "s3://bkt/nightly/2026/x" {
		t.Errorf("OpenRoot: %v", err)
	}
}

func TestOpenS3URLErrors(t *testing.T) {
	cleanS3Env(t, "")
	for u, want := range map[string]string{
		"s3://bkt/":                            "names a folder, not an object",
		"s3://bkt":                             "names a folder, not an object",
		"s3:///key":                            "not of the form s3://BUCKET/KEY",
		"s3://bkt/a/../b":                      `".." elements are not allowed`,
		"s3://bkt/x?part_size=1MiB":            "needs 5MiB to 5GiB",
		"s3://bkt/x?parts_in_flight=0":         "use 1 to 64",
		"s3://bkt/x?part_size=lots":            "?part_size=",
		"s3://bkt/x?secret=hunter2":            `unknown s3 URL setting "secret"`,
		"s3://bkt/x?endpoint=ftp://host:21":    `scheme "ftp" is neither http nor https`,
		"s3://bkt/x?endpoint=http://h/path":    "is not a URL of the form",
		"s3://user:pw@bkt/x":                   "s3://user@bkt/x carries credentials",
		"s3://bkt/x?path_style=perhaps":        "?path_style=",
		"s3://bkt/.x.sluice-tmp-1":             "reserved for pending objects",
		"s3://bkt/x?endpoint=http://127.0.0.1": "",
	} {
		_, _, err := blob.Open(u)
		switch {
		case want == "" && err != nil:
			t.Errorf("Open(%q): %v", u, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("Open(%q) error = %v, want it to contain %q", u, err, want)
		}
	}
}
