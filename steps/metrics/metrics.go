// Package metrics turns what sluice knows into Prometheus metrics: a run's
// facts from its report (Run) and a destination's backups from its catalogue
// (Catalog). A Set is written in the text exposition format for
// node_exporter's textfile collector (WriteFile, WriteText) or pushed to a
// Pushgateway (Push).
//
// Every metric is a gauge; names follow Prometheus conventions (the sluice_
// prefix, base units, timestamps rather than ages so that alerts compute
// time() - x and a value never goes stale between two runs). Labels are
// bounded: plan, target, step and query names, destinations, databases, key
// store paths, TLS addresses; never a run id or a secret. Families lists
// every metric sluice writes.
package metrics

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Family is one metric family sluice writes: its name, help text and the
// labels of its samples besides those of the group (see Set).
type Family struct {
	Name   string
	Help   string
	Labels []string
}

// Set is a collection of samples of sluice's families for one group: the
// labels that say whose state it is (plan and target for a run, dest for a
// catalogue). The group's labels are added to every sample when the set is
// written to a file, and are the grouping key when it is pushed.
type Set struct {
	// Group names whose metrics these are, e.g. plan and target. A label
	// with an empty value is left out of a file (Prometheus treats it as
	// absent) and kept in a Pushgateway grouping key.
	Group prometheus.Labels
	// Snapshot says the set is its group's whole state: writing it replaces
	// every series of the group. Otherwise (a run) only the families it
	// holds replace the group's earlier series, and the others stay: a
	// failed run keeps the time of the last success it does not know.
	Snapshot bool

	samples map[string]*sample // by family name and label values
	order   []string
}

type sample struct {
	fam    *Family
	values []string
	value  float64
	// add: the value is added to the group's earlier value of the same
	// series (a count carried from run to run, such as consecutive
	// failures); resolved by the writer from what it replaces.
	add bool
}

// NewSet returns an empty set for the group given as label name, value
// pairs.
func NewSet(group ...string) *Set {
	s := &Set{Group: prometheus.Labels{}, samples: map[string]*sample{}}
	for i := 0; i+1 < len(group); i += 2 {
		s.Group[group[i]] = group[i+1]
	}
	return s
}

// set records the value of family name for the label values, in the order
// of the family's labels, replacing an earlier value of the same series.
func (s *Set) set(name string, v float64, values ...string) {
	s.put(name, v, false, values)
}

// carry records v to be added to the series' earlier value (0 when none).
func (s *Set) carry(name string, v float64, values ...string) {
	s.put(name, v, true, values)
}

func (s *Set) put(name string, v float64, add bool, values []string) {
	f := family(name)
	if len(values) != len(f.Labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", name, len(f.Labels), len(values)))
	}
	key := name + "\xff" + strings.Join(values, "\xff")
	if _, ok := s.samples[key]; !ok {
		s.order = append(s.order, key)
	}
	s.samples[key] = &sample{fam: f, values: values, value: v, add: add}
}

// value returns the recorded value of a series, if any.
func (s *Set) value(name string, values ...string) (float64, bool) {
	x, ok := s.samples[name+"\xff"+strings.Join(values, "\xff")]
	if !ok {
		return 0, false
	}
	return x.value, true
}

// Len returns the number of samples.
func (s *Set) Len() int { return len(s.samples) }

// families returns the set's samples as metric families, sorted, with the
// group's labels when withGroup (a file) and without (a push, whose grouping
// key carries them). prev resolves carried values: the group's earlier
// families, or nil.
func (s *Set) families(withGroup bool, prev map[string]*dto.MetricFamily) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	var r prometheus.Registerer = reg
	if withGroup {
		r = prometheus.WrapRegistererWith(nonEmpty(s.Group), reg)
	}
	if err := r.Register(&collector{s: s, prev: prev}); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return mfs, nil
}

// WriteText writes the set in the text exposition format, with the group's
// labels and nothing carried (a carried value is written as it is).
func (s *Set) WriteText(w io.Writer) error {
	mfs, err := s.families(true, nil)
	if err != nil {
		return err
	}
	return encodeText(w, mfs)
}

func encodeText(w io.Writer, mfs []*dto.MetricFamily) error {
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("writing metrics: %w", err)
		}
	}
	return nil
}

// collector hands a Set to a prometheus registry, which checks names,
// labels and duplicates and sorts the output.
type collector struct {
	s    *Set
	prev map[string]*dto.MetricFamily
}

func (c *collector) descs() map[string]*prometheus.Desc {
	out := map[string]*prometheus.Desc{}
	for _, k := range c.s.order {
		f := c.s.samples[k].fam
		if out[f.Name] == nil {
			out[f.Name] = prometheus.NewDesc(f.Name, f.Help, f.Labels, nil)
		}
	}
	return out
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	descs := c.descs()
	for _, k := range c.s.order {
		x := c.s.samples[k]
		v := x.value
		if x.add {
			v += previous(c.prev[x.fam.Name], x.fam.Labels, x.values)
		}
		ch <- prometheus.MustNewConstMetric(descs[x.fam.Name], prometheus.GaugeValue, v, x.values...)
	}
}

// previous returns the value of the series with the given labels in mf, 0
// when there is none.
func previous(mf *dto.MetricFamily, names, values []string) float64 {
	if mf == nil {
		return 0
	}
	want := map[string]string{}
	for i, n := range names {
		want[n] = values[i]
	}
	for _, m := range mf.GetMetric() {
		if labelsMatch(m, want) {
			return metricValue(m)
		}
	}
	return 0
}

// metricValue returns the value of a gauge, counter or untyped sample.
func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// labelsMatch tells whether every label of want has its value in m (an
// absent label matches an empty value).
func labelsMatch(m *dto.Metric, want map[string]string) bool {
	for n, v := range want {
		if labelValue(m, n) != v {
			return false
		}
	}
	return true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// nonEmpty returns the labels whose value is not empty.
func nonEmpty(l prometheus.Labels) prometheus.Labels {
	out := prometheus.Labels{}
	for k, v := range l {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// groupNames returns the group's label names, sorted.
func (s *Set) groupNames() []string {
	return slices.Sorted(maps.Keys(s.Group))
}
