package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Job is the job label of everything sluice pushes.
const Job = "sluice"

// PushTimeout bounds each request to the Pushgateway.
const PushTimeout = 30 * time.Second

// Push sends s to the Pushgateway at rawURL under the grouping key job
// "sluice" and s.Group (plan and target for a run), so that the runs of
// different plans and targets do not replace each other. A run's set is
// added with POST, replacing the group's families it holds and keeping the
// others (the time of the last success after a failure); a Snapshot
// replaces the whole group (PUT). Carried values add to the group's values
// on the Pushgateway, read from it first.
//
// User info in rawURL becomes HTTP basic authentication and appears in no
// error.
func Push(ctx context.Context, rawURL string, s *Set) error {
	base, user, pass, err := pushURL(rawURL)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: PushTimeout}
	var prev map[string]*dto.MetricFamily
	if s.carries() {
		if prev, err = pushedGroup(ctx, client, base, user, pass, s); err != nil {
			return err
		}
	}
	mfs, err := s.families(false, prev)
	if err != nil {
		return err
	}
	p := push.New(base, Job).Client(client).
		Gatherer(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil }))
	for _, n := range s.groupNames() {
		p = p.Grouping(n, s.Group[n])
	}
	if user != "" {
		p = p.BasicAuth(user, pass)
	}
	if s.Snapshot {
		err = p.PushContext(ctx)
	} else {
		err = p.AddContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("pushing metrics to %s: %w", base, err)
	}
	return nil
}

// CheckPushURL checks a Pushgateway URL before anything runs.
func CheckPushURL(rawURL string) error {
	_, _, _, err := pushURL(rawURL)
	return err
}

// pushURL splits a Pushgateway URL into its base (scheme, host and path,
// without user info, query or final slash) and its user info.
func pushURL(rawURL string) (base, user, pass string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// url.Parse's error quotes the URL, password included.
		return "", "", "", fmt.Errorf("--pushgateway: want the Pushgateway's http:// or https:// URL, e.g. http://pushgateway:9091")
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}
	return clean.String(), user, pass, nil
}

// carries tells whether s has values that add to earlier ones.
func (s *Set) carries() bool {
	for _, x := range s.samples {
		if x.add {
			return true
		}
	}
	return false
}

// pushedGroup reads the Pushgateway's metrics and returns the series of
// s's group.
func pushedGroup(ctx context.Context, client *http.Client, base, user, pass string, s *Set) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the pushed metrics from %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading the pushed metrics from %s: %s", base, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the pushed metrics from %s: %w", base, err)
	}
	want := map[string]string{"job": Job}
	for k, v := range s.Group {
		want[k] = v
	}
	out := map[string]*dto.MetricFamily{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if labelsMatch(m, want) {
				if out[name] == nil {
					out[name] = &dto.MetricFamily{Name: mf.Name, Type: mf.Type}
				}
				out[name].Metric = append(out[name].Metric, m)
			}
		}
	}
	return out, nil
}
