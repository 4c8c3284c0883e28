// Package s3test starts a real S3-compatible server for tests: versitygw
// with its posix backend, on a free port of 127.0.0.1, over a temporary
// folder. Without the versitygw binary (scripts/install-versitygw.sh builds
// it), tests skip with the reason printed; in CI (CI=true) they fail.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/blob"
)

// Test-only credentials of every server this package starts.
const (
	AccessKey = "sluice-test-access"
	SecretKey = "sluice-test-secret-0123456789"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Root     string // the posix backend's folder: one sub-folder per bucket

	addr, bin, dir string
	cmd            *exec.Cmd
	exited         chan struct{}
}

var (
	shared testenv.Shared[*Server]
	seq    atomic.Int64
)

// Main runs a package's tests with one server shared by every Shared call,
// stopped at the end: call it from TestMain.
func Main(m *testing.M) {
	shared.Main(m, func(s *Server) {
		s.Stop()
		os.RemoveAll(s.dir)
	})
}

// Shared returns the package's server when the package's TestMain calls
// Main, else a server of the test's own.
func Shared(t testing.TB) *Server {
	t.Helper()
	if !shared.On() {
		return Start(t)
	}
	s, err := shared.Get(func() (*Server, error) {
		dir, err := os.MkdirTemp("", "s3test-")
		if err != nil {
			return nil, err
		}
		return start(dir)
	})
	if err != nil {
		unavailable(t, err)
	}
	return s
}

// Start starts a server for this test only (to stop and restart it) and
// stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir())
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// errNotInstalled marks a missing versitygw binary.
var errNotInstalled = errors.New("versitygw is not installed: run scripts/install-versitygw.sh")

func unavailable(t testing.TB, err error) {
	t.Helper()
	switch {
	case !errors.Is(err, errNotInstalled):
		t.Fatalf("s3test: %v", err)
	default:
		testenv.SkipUnlessCI(t, "s3test: no S3 server: %v", err)
	}
}

// binary finds versitygw: $SLUICE_VERSITYGW, PATH, then Go's bin folder
// where scripts/install-versitygw.sh puts it.
func binary() (string, error) {
	if p := os.Getenv("SLUICE_VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		gopath := os.Getenv("GOPATH")
		if out, err := exec.Command("go", "env", "GOPATH").Output(); gopath == "" && err == nil {
			gopath = strings.TrimSpace(string(out))
		}
		gobin = filepath.Join(strings.Split(gopath, string(os.PathListSeparator))[0], "bin")
	}
	p := filepath.Join(gobin, "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w (not on PATH nor in %s)", errNotInstalled, gobin)
	}
	return p, nil
}

func start(dir string) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Endpoint: "http://" + addr, Root: root, addr: addr, bin: bin, dir: dir}
	return s, s.Restart()
}

// Restart starts the server again after Stop, on the same address and
// folder: objects and incomplete uploads survive.
func (s *Server) Restart() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "versitygw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", s.addr, "--region", Region, "--health", "/health", "--quiet", "posix", s.Root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "versitygw.log"))
			return fmt.Errorf("versitygw exited at start on %s: %s", s.addr, strings.TrimSpace(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("versitygw did not answer on %s within a minute", s.addr)
		}
	}
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Config returns the backend settings for this server, with quick retries
// so that fault tests stay short.
func (s *Server) Config() blob.S3Config {
	return blob.S3Config{Endpoint: s.Endpoint, Region: Region, PathStyle: true, RetryBase: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
}

// Client returns a minio-go client of the server, for checks that go
// around the backend (incomplete uploads, raw objects).
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// NewBucket creates an empty bucket with a fresh name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	name = fmt.Sprintf("t%d-%.40s", seq.Add(1), name)
	name = strings.TrimRight(name, "-")
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("s3test: creating bucket %s: %v", name, err)
	}
	return name
}

// Backend returns an S3 backend of a new bucket under prefix, with the
// test credentials.
func (s *Server) Backend(t testing.TB, prefix string) *blob.S3 {
	t.Helper()
	b, err := blob.NewS3WithKeys(s.Config(), s.NewBucket(t), prefix, AccessKey, SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SetEnv points s3:// URLs at this server for the rest of the test, as a
// user would: endpoint, region, path style and credentials in the
// environment.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"SLUICE_S3_ENDPOINT": s.Endpoint, "SLUICE_S3_PATH_STYLE": "true", "AWS_REGION": Region,
		"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey,
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "SLUICE_S3_RETRIES": "3",
	} {
		t.Setenv(k, v)
	}
}
