package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// WriteFile writes s to path in the text exposition format, for
// node_exporter's textfile collector (which reads *.prom files): atomically,
// through a temporary file in the same folder renamed over path, so the
// collector never reads half a file.
//
// The file may hold other groups' series (several plans, or the targets of a
// fleet): they are kept. The set replaces its own group's series as a
// Pushgateway push would (see Set.Snapshot), and its carried values (counts
// of consecutive failures) add to the group's values in the file. Writers
// of one folder take turns (an exclusive lock on the folder), so runs that
// end at once do not lose each other's series.
func WriteFile(path string, s *Set) error {
	dir := filepath.Dir(path)
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("writing metrics file %s: %w", path, err)
	}
	defer unlock()
	old, err := readExposition(path)
	if err != nil {
		return err
	}
	mine, others := splitGroup(old, s)
	fresh, err := s.families(true, mine)
	if err != nil {
		return err
	}
	merged := merge(others, mine, fresh, s.Snapshot)
	var buf bytes.Buffer
	if err := encodeText(&buf, merged); err != nil {
		return err
	}
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("writing metrics file %s: %w", path, err)
	}
	return nil
}

// readExposition parses the text exposition at path; a missing file is an
// empty one.
func readExposition(path string) (map[string]*dto.MetricFamily, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*dto.MetricFamily{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading metrics file %s: %w", path, err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		return nil, fmt.Errorf("metrics file %s is not in Prometheus' text format (%v): remove it or choose another file", path, err)
	}
	return mfs, nil
}

// splitGroup splits parsed families into the series of s's group and the
// others.
func splitGroup(mfs map[string]*dto.MetricFamily, s *Set) (mine, others map[string]*dto.MetricFamily) {
	mine, others = map[string]*dto.MetricFamily{}, map[string]*dto.MetricFamily{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			dst := others
			if inGroup(name, m, s.Group) {
				dst = mine
			}
			if dst[name] == nil {
				dst[name] = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
			}
			dst[name].Metric = append(dst[name].Metric, m)
		}
	}
	return mine, others
}

// inGroup tells whether series m of family name is the group's: its
// group labels match and it has no label but those and the family's own.
// A run's series may carry a catalogue's label (dest) among its own; a
// catalogue snapshot must not take them for its own and drop them.
func inGroup(name string, m *dto.Metric, group map[string]string) bool {
	if !labelsMatch(m, group) {
		return false
	}
	var own []string
	if f := byName[name]; f != nil {
		own = f.Labels
	}
	for _, l := range m.GetLabel() {
		if _, ok := group[l.GetName()]; !ok && !slices.Contains(own, l.GetName()) {
			return false
		}
	}
	return true
}

// merge returns the other groups' series, the group's new series and,
// unless snapshot, the group's earlier series of families the new ones do
// not hold; sorted by name and labels.
func merge(others, mine map[string]*dto.MetricFamily, fresh []*dto.MetricFamily, snapshot bool) []*dto.MetricFamily {
	out := map[string]*dto.MetricFamily{}
	add := func(mf *dto.MetricFamily) {
		if out[mf.GetName()] == nil {
			out[mf.GetName()] = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
		}
		out[mf.GetName()].Metric = append(out[mf.GetName()].Metric, mf.Metric...)
	}
	freshNames := map[string]bool{}
	for _, mf := range fresh {
		freshNames[mf.GetName()] = true
		add(mf) // first, so its help text wins
	}
	for _, mf := range others {
		add(mf)
	}
	if !snapshot {
		for name, mf := range mine {
			if !freshNames[name] {
				add(mf)
			}
		}
	}
	list := make([]*dto.MetricFamily, 0, len(out))
	for _, mf := range out {
		sort.Slice(mf.Metric, func(i, j int) bool { return labelKey(mf.Metric[i]) < labelKey(mf.Metric[j]) })
		list = append(list, mf)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].GetName() < list[j].GetName() })
	return list
}

func labelKey(m *dto.Metric) string {
	ls := append([]*dto.LabelPair(nil), m.GetLabel()...)
	sort.Slice(ls, func(i, j int) bool { return ls[i].GetName() < ls[j].GetName() })
	var b bytes.Buffer
	for _, l := range ls {
		fmt.Fprintf(&b, "%s\xff%s\xff", l.GetName(), l.GetValue())
	}
	return b.String()
}

// writeAtomic writes data to a temporary file in path's folder (a name the
// textfile collector ignores), syncs it and renames it over path. The file
// is readable by everyone: node_exporter runs as its own user, and metrics
// hold no secret.
func writeAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
