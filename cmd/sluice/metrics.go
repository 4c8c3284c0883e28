package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/fleet"
	"github.com/sluice-dev/sluice/steps/metrics"
)

// metricsFlags say where a command's metrics go.
type metricsFlags struct {
	file        string
	pushgateway string
}

// add declares --metrics-file (named name) and --pushgateway on fs.
func (m *metricsFlags) add(fs *pflag.FlagSet, name, what string) {
	fs.StringVar(&m.file, name, "", "write "+what+" to `FILE` in Prometheus' text format, atomically (for node_exporter's textfile collector: name it *.prom)")
	fs.StringVar(&m.pushgateway, "pushgateway", "", "push "+what+" to the Pushgateway at `URL` (job sluice; user:password@ in the URL is basic auth)")
}

// check refuses, before anything runs, a metrics file whose folder is
// missing and a Pushgateway URL that cannot work.
func (m *metricsFlags) check() error {
	if m.file != "" {
		if fi, err := os.Stat(filepath.Dir(m.file)); err != nil || !fi.IsDir() {
			return usagef("metrics file %s: its folder %s does not exist: create it, or point at the textfile collector's folder", m.file, filepath.Dir(m.file))
		}
	}
	if m.pushgateway != "" {
		if err := metrics.CheckPushURL(m.pushgateway); err != nil {
			return usagef("%v", err)
		}
	}
	return nil
}

func (m *metricsFlags) any() bool { return m.file != "" || m.pushgateway != "" }

// export writes and pushes s where the flags say; both are tried.
func (m *metricsFlags) export(ctx context.Context, s *metrics.Set) error {
	var errs []error
	if m.file != "" {
		errs = append(errs, metrics.WriteFile(m.file, s))
	}
	if m.pushgateway != "" {
		errs = append(errs, metrics.Push(ctx, m.pushgateway, s))
	}
	return errors.Join(errs...)
}

// exportRunMetrics exports a finished run's metrics for target (empty
// without an inventory). A run's own error comes first: a metrics error
// then is printed, not returned.
func (a *app) exportRunMetrics(m *metricsFlags, plan *runner.Plan, values map[string]any, rep *runner.Report, target string, runErr error) error {
	if !m.any() {
		return runErr
	}
	s := metrics.Run(rep, metrics.RunOptions{
		Target: target,
		Stores: metrics.KeyStorePaths(plan, values, os.Environ(), rep),
		Redact: a.redactor.Redact,
	})
	// The run may have been interrupted: the export still gets its time.
	ctx, cancel := context.WithTimeout(context.Background(), metrics.PushTimeout)
	defer cancel()
	err := m.export(ctx, s)
	if err == nil {
		return runErr
	}
	if runErr != nil {
		fmt.Fprintf(a.stderr, "sluice: error: %s\n", a.redactor.Redact(err.Error()))
		return runErr
	}
	return err
}

// exportTargetMetrics exports the metrics of one fleet target's run, in the
// group of its plan and target. An error is printed: the fleet goes on.
func (a *app) exportTargetMetrics(m *metricsFlags, plan *runner.Plan, jobs []fleet.Job, stateDir string, t fleet.Target) {
	if !m.any() || t.RunID == "" {
		return
	}
	rep, err := runner.ReadReport(filepath.Join(runner.RunDir(stateDir, t.RunID), runner.ReportFile))
	if err == nil {
		var values map[string]any
		for _, j := range jobs {
			if j.Name == t.Name {
				values = j.Params
			}
		}
		err = a.exportRunMetrics(m, plan, values, rep, t.Name, nil)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice: error: target %s: %s\n", t.Name, a.redactor.Redact(err.Error()))
	}
}
