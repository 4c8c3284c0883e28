package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/steps/metrics"
)

// backupsMetrics prints (or writes, or pushes) the catalogue's state as
// Prometheus metrics, for a cron job feeding node_exporter's textfile
// collector.
func backupsMetricsCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "metrics DEST", Short: "print the catalogue's state as Prometheus metrics, for a cron job"}
	fs := c.Flags()
	keyDir := fs.String("key-dir", "", "dir key store the backups are encrypted to: its verification keys check the manifests' signatures, and its active key's age and the retired keys the backups still need are added")
	tf := addTrustFlags(fs, keyDir)
	var mf metricsFlags
	mf.add(fs, "output", "the metrics, instead of printing them,")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if err := mf.check(); err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		// Manifests the signature gate refuses are counted as problems by kind.
		c, ups, err := tf.readCatalog(ctx, a, "metrics", pos)
		if err != nil {
			return err
		}
		s, err := metrics.Catalog(metrics.CatalogInput{Catalog: c, Uploads: len(ups), Read: time.Now(), KeyStore: *keyDir})
		if err != nil {
			return err
		}
		if !mf.any() {
			return s.WriteText(a.redactor.Writer(a.stdout))
		}
		return mf.export(ctx, s)
	}
	return c
}
