package blob

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// S3 settings come from the environment and the AWS shared files, never from
// the plan in clear text (an s3:// URL carries only non-secret settings in its
// query). In order of precedence:
//
//   - endpoint: ?endpoint=, SLUICE_S3_ENDPOINT, AWS_ENDPOINT_URL_S3,
//     AWS_ENDPOINT_URL, endpoint_url of the profile in the shared config file,
//     else AWS (s3.amazonaws.com). http:// turns TLS off, https:// (or no
//     scheme) turns it on.
//   - region: ?region=, AWS_REGION, AWS_DEFAULT_REGION, region of the profile
//     in the shared config file; else us-east-1 for a custom endpoint and the
//     bucket's own region (looked up) for AWS.
//   - path-style addressing (http://host/bucket/key instead of
//     http://bucket.host/key, needed by most self-hosted services):
//     ?path_style=true or SLUICE_S3_PATH_STYLE=true.
//   - credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
//     AWS_SESSION_TOKEN), else the shared credentials file
//     (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE
//     or default), else the EC2/ECS instance role (IAM).
//   - multipart upload: ?part_size= or SLUICE_S3_PART_SIZE (default 16MiB,
//     at least 5MiB) and ?parts_in_flight= or SLUICE_S3_PARTS_IN_FLIGHT
//     (default 4). An upload buffers at most parts_in_flight × part_size bytes
//     (64 MiB by default): one part being filled, the others uploading in
//     parallel.
//   - retries: SLUICE_S3_RETRIES attempts per request (default 6), with
//     exponential backoff from 250ms to 15s and full jitter.
//
// The shared config file is AWS_CONFIG_FILE or ~/.aws/config, profile
// AWS_PROFILE or default.

// Multipart limits of S3.
const (
	MinPartSize          = 5 << 20
	MaxPartSize          = 5 << 30
	DefaultPartSize      = 16 << 20
	DefaultPartsInFlight = 4
	maxParts             = 10000
)

// S3Config configures an S3 backend. NewS3 fills zero fields with defaults.
type S3Config struct {
	Endpoint      string        // host[:port], or a URL whose scheme decides TLS
	Region        string        // empty: us-east-1 for a custom endpoint, looked up on AWS
	PathStyle     bool          // address buckets as endpoint/bucket
	PartSize      int64         // bytes per multipart part (>= MinPartSize)
	PartsInFlight int           // part buffers per upload: memory = PartsInFlight × PartSize
	Retries       int           // attempts per request, including the first
	RetryBase     time.Duration // first backoff; doubles per attempt
	RetryMax      time.Duration // longest backoff
}

// S3ConfigFromEnv returns the settings the environment and the AWS shared
// config file give, overridden by the query of an s3:// URL (endpoint,
// region, path_style, part_size, parts_in_flight).
func S3ConfigFromEnv(query url.Values) (S3Config, error) {
	shared := sharedConfig()
	cfg := S3Config{
		Endpoint: firstOf(os.Getenv("SLUICE_S3_ENDPOINT"), os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), shared["endpoint_url"]),
		Region:   firstOf(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), shared["region"]),
	}
	set := func(key, env string, apply func(string) error) error {
		v, where := os.Getenv(env), env
		if query.Has(key) {
			v, where = query.Get(key), "?"+key+"="
		}
		if v == "" {
			return nil
		}
		if err := apply(v); err != nil {
			return fmt.Errorf("s3 setting %s: %w", where, err)
		}
		return nil
	}
	for key := range query {
		switch key {
		case "endpoint", "region", "path_style", "part_size", "parts_in_flight":
		default:
			return cfg, fmt.Errorf("unknown s3 URL setting %q: use endpoint, region, path_style, part_size or parts_in_flight", key)
		}
	}
	errs := []error{
		set("endpoint", "SLUICE_S3_ENDPOINT", func(v string) error { cfg.Endpoint = v; return nil }),
		set("region", "AWS_REGION", func(v string) error { cfg.Region = v; return nil }),
		set("path_style", "SLUICE_S3_PATH_STYLE", func(v string) (err error) {
			cfg.PathStyle, err = strconv.ParseBool(v)
			return err
		}),
		set("part_size", "SLUICE_S3_PART_SIZE", func(v string) error {
			n, err := runner.ParseSize(v)
			cfg.PartSize = int64(n)
			return err
		}),
		set("parts_in_flight", "SLUICE_S3_PARTS_IN_FLIGHT", func(v string) (err error) {
			cfg.PartsInFlight, err = strconv.Atoi(v)
			if err == nil && cfg.PartsInFlight < 1 {
				err = fmt.Errorf("%d parts in flight: use 1 to 64", cfg.PartsInFlight)
			}
			return err
		}),
		set("", "SLUICE_S3_RETRIES", func(v string) (err error) {
			cfg.Retries, err = strconv.Atoi(v)
			return err
		}),
	}
	for _, err := range errs {
		if err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// withDefaults checks cfg and fills its zero fields.
func (cfg S3Config) withDefaults() (S3Config, error) {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize || cfg.PartSize > MaxPartSize {
		return cfg, fmt.Errorf("s3 part size %d is out of range: S3 needs 5MiB to 5GiB", cfg.PartSize)
	}
	if cfg.PartsInFlight == 0 {
		cfg.PartsInFlight = DefaultPartsInFlight
	}
	if cfg.PartsInFlight < 1 || cfg.PartsInFlight > 64 {
		return cfg, fmt.Errorf("s3 parts in flight %d is out of range: use 1 to 64", cfg.PartsInFlight)
	}
	if cfg.Retries == 0 {
		cfg.Retries = 6
	}
	if cfg.Retries < 1 {
		return cfg, fmt.Errorf("s3 retries %d is out of range: use 1 or more attempts", cfg.Retries)
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 250 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 15 * time.Second
	}
	return cfg, nil
}

// endpoint splits cfg.Endpoint into the host[:port] minio-go wants and
// whether to use TLS.
func (cfg S3Config) endpoint() (host string, secure bool, custom bool, err error) {
	e := cfg.Endpoint
	if e == "" {
		return "s3.amazonaws.com", true, false, nil
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return "", false, false, fmt.Errorf("s3 endpoint %q is not a URL of the form http(s)://host[:port]", cfg.Endpoint)
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, true, nil
	case "https":
		return u.Host, true, true, nil
	default:
		return "", false, false, fmt.Errorf("s3 endpoint %q: scheme %q is neither http nor https", cfg.Endpoint, u.Scheme)
	}
}

// sharedConfig reads the keys of the current profile in the AWS shared
// config file; a missing or unreadable file gives none.
func sharedConfig() map[string]string {
	path := os.Getenv("AWS_CONFIG_FILE")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		path = filepath.Join(home, ".aws", "config")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	want := "default"
	if p := os.Getenv("AWS_PROFILE"); p != "" && p != "default" {
		want = "profile " + p
	}
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			in = strings.TrimSpace(strings.Trim(line, "[]")) == want
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
