package pg_test

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

func TestIntegrationTLSCluster(t *testing.T) {
	cert, key, err := pg.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	c := pgtest.Start(t, pg.WithTLS(pg.Options{}, cert, key))
	ctx := context.Background()
	for _, tc := range []struct {
		mode string
		ssl  bool
	}{{"disable", false}, {"require", true}} {
		conn, err := pg.Connect(ctx, c.DSN("postgres")+"?sslmode="+tc.mode)
		if err != nil {
			t.Fatalf("sslmode=%s: %v", tc.mode, err)
		}
		var ssl bool
		err = conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
		conn.Close(ctx)
		if err != nil || ssl != tc.ssl {
			t.Errorf("sslmode=%s: ssl = %v (%v), want %v", tc.mode, ssl, err, tc.ssl)
		}
	}
}
