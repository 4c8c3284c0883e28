// Package pg holds sluice's PostgreSQL infrastructure: throwaway clusters
// started from the system's binaries, DSN handling, pre-flight checks,
// content fingerprints, and the client tools: dumping with pg_dump (Dump),
// restoring with pg_restore or a restricted psql (SniffFormat, Restore) and
// reading a restored database back (VerifyQueries).
package pg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/sluice-dev/sluice/steps/command"
)

// Options configure StartCluster. The zero value starts a cluster with the
// newest PostgreSQL installed and a random superuser password.
type Options struct {
	Logger hclog.Logger // nil: no logging

	// Password is the superuser's password, which every connection (socket
	// and TCP) must give (scram-sha-256). Empty: a random one. There is no
	// trust authentication: other local users must not get in.
	Password string

	// Conf lines are appended to postgresql.conf after sluice's own
	// settings, so they win (e.g. "ssl = on", "ssl_cert_file = 'server.crt'").
	Conf []string
	// HBA lines are placed before the default pg_hba.conf entries, so they
	// match first (e.g. "hostnossl all all 127.0.0.1/32 reject").
	HBA []string
	// Files are written into the data directory before the server starts,
	// owned by the server's user with mode 0600; refer to them by relative
	// name in Conf lines (certificates and keys for TLS scenarios).
	Files map[string][]byte

	BinDir       string        // directory with initdb and postgres; empty: newest installed
	StartTimeout time.Duration // default 30s
}

// Cluster is a running throwaway PostgreSQL server. Stop it to remove it.
type Cluster struct {
	Host      string // always 127.0.0.1
	Port      int
	User      string // superuser: "postgres"
	Password  string // the superuser's password; keep it in this process
	Passfile  string // a 0600 .pgpass file with Password, in the cluster's 0700 folder
	DataDir   string
	SocketDir string
	Version   Version

	base     string
	proc     *exec.Cmd
	exited   chan struct{}
	serverLg *command.Tail
	logger   hclog.Logger
	stopOnce sync.Once
	stopErr  error
}

// StartCluster initialises a new cluster in a private temporary directory and
// starts it on a free port of 127.0.0.1, with fsync off. When the process
// runs as root, the server runs as the "postgres" system user. The cluster
// is removed again if starting fails. Clusters left by a process that was
// killed before it could remove them are removed first.
func StartCluster(ctx context.Context, opts Options) (*Cluster, error) {
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	binDir, ver := opts.BinDir, Version{}
	if binDir == "" {
		var err error
		if binDir, ver, err = serverBinDir(); err != nil {
			return nil, fmt.Errorf("starting PostgreSQL: %w", err)
		}
	}
	cred, err := serverUser(logger)
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	if opts.Password == "" {
		if opts.Password, err = randomPassword(); err != nil {
			return nil, fmt.Errorf("starting PostgreSQL: %w", err)
		}
	}
	c := &Cluster{Host: "127.0.0.1", User: "postgres", Password: opts.Password, Version: ver, logger: logger, serverLg: command.NewTail(8 << 10)}
	if err := c.init(ctx, binDir, cred, opts); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := c.start(ctx, binDir, cred, timeout); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	logger.Debug("started PostgreSQL cluster", "version", ver.Text, "port", c.Port, "dir", c.base)
	return c, nil
}

func (c *Cluster) init(ctx context.Context, binDir string, cred *syscall.Credential, opts Options) error {
	tmp := clusterTempDir()
	removeStaleClusters(tmp, cred, c.logger)
	base, err := os.MkdirTemp(tmp, "sluice-pg-")
	if err != nil {
		return fmt.Errorf("creating temporary directory: %w", err)
	}
	c.base, c.DataDir, c.SocketDir = base, filepath.Join(base, "data"), filepath.Join(base, "sock")
	if err := writeOwner(base); err != nil {
		return err
	}
	for _, d := range []string{c.SocketDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := chownAll(cred, base, c.SocketDir); err != nil {
		return err
	}
	if err := c.writePassfile(); err != nil {
		return err
	}
	pwfile := filepath.Join(base, "pwfile")
	if err := writeOwned(cred, pwfile, []byte(opts.Password+"\n")); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	args := []string{"-D", c.DataDir, "-U", c.User, "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
		"--auth=scram-sha-256", "--pwfile=" + pwfile}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb failed: %w: %s", err, LastLines(string(out), 5))
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.Port = port
	const method = "scram-sha-256"
	hba := append(append([]string{}, opts.HBA...),
		"local all all "+method,
		"host all all 127.0.0.1/32 "+method,
		"host all all ::1/128 "+method)
	if err := writeOwned(cred, filepath.Join(c.DataDir, "pg_hba.conf"), []byte(strings.Join(hba, "\n")+"\n")); err != nil {
		return err
	}
	conf := []string{
		"", "# added by sluice",
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(port),
		"unix_socket_directories = '" + c.SocketDir + "'",
		"fsync = off", "synchronous_commit = off", "full_page_writes = off",
		"shared_buffers = 32MB", "max_connections = 40",
		"log_min_messages = warning", "log_line_prefix = '%m [%p] '",
	}
	conf = append(conf, opts.Conf...)
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(strings.Join(conf, "\n") + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing postgresql.conf: %w", err)
	}
	for name, data := range opts.Files {
		if name != filepath.Base(name) {
			return fmt.Errorf("file name %q must not contain a directory", name)
		}
		if err := writeOwned(cred, filepath.Join(c.DataDir, name), data); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) start(ctx context.Context, binDir string, cred *syscall.Credential, timeout time.Duration) error {
	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", c.DataDir)
	cmd.Stdout, cmd.Stderr = c.serverLg, c.serverLg
	// Own process group: a terminal's ^C reaches sluice, which stops the
	// server in order. Pdeathsig: no server outlives a crashed sluice.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running postgres: %w", err)
	}
	c.proc, c.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(c.exited) }()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.Connect(ctx, c.SocketDSN("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during start-up (%s): %s", cmd.ProcessState, LastLines(c.serverLg.String(), 5))
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %s: %v: %s", timeout, err, LastLines(c.serverLg.String(), 5))
		case <-tick.C:
		}
	}
}

// DSN returns a URL for database db over TCP with the superuser's password
// in it, for use inside this process (and by tests). What leaves the process
// (step outputs, logs, command lines) takes PassfileDSN.
func (c *Cluster) DSN(db string) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), Path: "/" + db,
		User: url.UserPassword(c.User, c.Password)}
	return u.String()
}

// PassfileDSN returns a URL for database db over TCP that holds no secret:
// libpq and pgx read the password from the cluster's Passfile, which only
// this process's user (and the server's) can open. It may be logged, put in
// reports and passed on command lines. params are extra key=value query
// parameters, e.g. "sslmode=require".
func (c *Cluster) PassfileDSN(db string, params ...string) string {
	q := url.Values{"passfile": {c.Passfile}}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		q.Set(k, v)
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), Path: "/" + db,
		User: url.User(c.User), RawQuery: q.Encode()}
	return u.String()
}

// SocketDSN returns a key=value DSN for database db over the cluster's unix
// socket, which TLS-only pg_hba lines do not affect. It holds the password:
// keep it inside this process.
func (c *Cluster) SocketDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s password=%s",
		c.SocketDir, c.Port, c.User, quoteValue(db), quoteValue(c.Password))
}

// Exec runs sql (one or more statements) in database db as the superuser.
func (c *Cluster) Exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, c.SocketDSN(db))
	if err != nil {
		return fmt.Errorf("connecting to database %q: %w", db, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("database %q: %w", db, err)
	}
	return nil
}

// CreateDB creates database name.
func (c *Cluster) CreateDB(ctx context.Context, name string) error {
	return c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// ServerLog returns the last lines the server logged.
func (c *Cluster) ServerLog() string { return c.serverLg.String() }

// Stop shuts the server down (fast mode, then SIGKILL after 10s) and
// removes its directory. It is safe to call more than once and after a
// failed start.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.proc != nil {
			_ = c.proc.Process.Signal(syscall.SIGINT)
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				_ = c.proc.Process.Kill()
				<-c.exited
			}
		}
		if c.base != "" {
			if err := os.RemoveAll(c.base); err != nil {
				c.stopErr = fmt.Errorf("removing PostgreSQL cluster: %w", err)
			}
		}
		c.logger.Debug("stopped PostgreSQL cluster", "port", c.Port)
	})
	return c.stopErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ErrNoSystemUser is returned when running as root on a machine without a
// "postgres" system user to run the server as.
var ErrNoSystemUser = errors.New(`sluice runs as root and PostgreSQL refuses to, but there is no "postgres" system user to run it as: create one (useradd --system postgres) or run sluice as another user`)
