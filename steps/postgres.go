package steps

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/relay"
)

func postgresDefinition() runner.Definition {
	return runner.Definition{
		Type:    "postgres",
		Kind:    runner.KindAction,
		Summary: "Start a throwaway PostgreSQL cluster for the rest of the run (quickstart, drills, demos)",
		New:     func() any { return &Postgres{} },
		Outputs: []runner.OutputSpec{
			{Name: "dsn", Type: "string", Doc: "connection string of the database on 127.0.0.1; it holds no secret: the random superuser password is read from the passfile it names (0600, in a 0700 folder)"},
			{Name: "dsn_plain", Type: "string", Doc: "dsn with sslmode=disable: a plaintext connection"},
			{Name: "dsn_tls", Type: "string", Doc: "with tls: true, dsn with sslmode=require (TLS, certificate not verified); empty otherwise"},
			{Name: "host", Type: "string", Doc: "address the server listens on"},
			{Name: "port", Type: "int", Doc: "port the server listens on"},
			{Name: "database", Type: "string", Doc: "name of the created database"},
			{Name: "server_version", Type: "string", Doc: "PostgreSQL major version, e.g. 15"},
			{Name: "tables", Type: "int", Doc: "user tables after seeding"},
			{Name: "rows", Type: "int", Doc: "rows over every user table after seeding"},
			{Name: "fingerprint", Type: "string", Doc: "digest of every user table's rows after seeding; compare with restore.fingerprint"},
		},
	}
}

// Postgres is the parameter struct of the postgres step: it starts a
// cluster from the system's PostgreSQL binaries on a free port of
// 127.0.0.1, creates a database, optionally seeds it, and stops and removes
// the cluster when the run ends. Only the superuser exists, with a random
// password that the DSN outputs reference through a passfile.
type Postgres struct {
	Database string   `yaml:"database" default:"app" doc:"database to create"`
	Seed     string   `yaml:"seed" default:"sample" doc:"sample: sluice's sample data (about 10,000 rows); none: an empty database; or the path of a SQL file to run"`
	Conf     []string `yaml:"conf" doc:"extra postgresql.conf lines"`
	TLS      bool     `yaml:"tls" doc:"turn TLS on with a self-signed certificate generated for this run (plaintext stays allowed; see dsn_tls and dsn_plain)"`
	Link     Link     `yaml:"link" doc:"simulate a network link: {rtt: 500us} puts a relay in front of the server that adds that round trip (half each way) to every exchange; dsn, dsn_plain, dsn_tls, host and port then lead through it"`
}

// Link is a simulated network link (see steps/relay).
type Link struct {
	RTT runner.Duration `yaml:"rtt" doc:"round trip the link adds, e.g. 500us; 0: none (loopback)"`
}

// Validate checks the database name.
func (p *Postgres) Validate() error {
	if p.Database == "" || p.Database == "postgres" {
		return errors.New("database: give a name other than postgres")
	}
	return nil
}

// Run starts the cluster and seeds it.
func (p *Postgres) Run(ctx context.Context, sc *runner.StepContext) (runner.Outputs, error) {
	opts := pg.Options{Logger: sc.Logger, Conf: p.Conf}
	if p.TLS {
		cert, key, err := pg.SelfSignedCert()
		if err != nil {
			return nil, err
		}
		opts = pg.WithTLS(opts, cert, key)
	}
	c, err := pg.StartCluster(ctx, opts)
	if err != nil {
		return nil, err
	}
	sc.AtEnd(c.Stop)
	if err := c.CreateDB(ctx, p.Database); err != nil {
		return nil, err
	}
	if err := pg.SeedFrom(ctx, c, p.Database, p.Seed); err != nil {
		return nil, err
	}
	dsn := c.PassfileDSN(p.Database)
	sums, err := pg.Fingerprint(ctx, dsn)
	if err != nil {
		return nil, err
	}
	dsnPlain, dsnTLS := c.PassfileDSN(p.Database, "sslmode=disable"), ""
	if p.TLS {
		dsnTLS = c.PassfileDSN(p.Database, "sslmode=require")
	}
	host, port := c.Host, int64(c.Port)
	if !p.Link.RTT.IsZero() {
		if host, port, err = startLink(sc, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), p.Link.RTT.Std(), &dsn, &dsnPlain, &dsnTLS); err != nil {
			return nil, err
		}
	}
	sc.Logger.Info("throwaway PostgreSQL cluster ready", "port", port, "database", p.Database, "tables", len(sums))
	return runner.Outputs{
		"dsn": dsn, "dsn_plain": dsnPlain, "dsn_tls": dsnTLS, "host": host, "port": port, "database": p.Database,
		"server_version": c.Version.MajorString(), "tables": int64(len(sums)),
		"rows": pg.TotalRows(sums), "fingerprint": pg.FingerprintDigest(sums),
	}, nil
}

// startLink starts a relay that adds rtt in front of addr, stopped at the
// end of the run, points the non-empty dsns through it and returns its
// host and port.
func startLink(sc *runner.StepContext, addr string, rtt time.Duration, dsns ...*string) (string, int64, error) {
	r, err := relay.Start(addr, rtt)
	if err != nil {
		return "", 0, err
	}
	sc.AtEnd(r.Close)
	for _, dsn := range dsns {
		if *dsn == "" {
			continue
		}
		if *dsn, err = r.Via(*dsn); err != nil {
			return "", 0, err
		}
	}
	host, port, _ := net.SplitHostPort(r.Addr())
	n, _ := strconv.Atoi(port)
	sc.Logger.Info("simulated link in front of the cluster", "rtt", rtt, "relay", r.Addr())
	return host, int64(n), nil
}
