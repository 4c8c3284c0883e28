package metrics

import "github.com/sluice-dev/sluice/runner"

// record is a step record the domain facts are read from, with where it
// sits: path names it (the step id, or backup[shop]/upload inside a plan a
// step ran for each item), rep is the report whose steps it is among, key
// is its item's key when it is one.
type record struct {
	path string
	rep  *runner.Report
	st   *runner.StepReport
	key  string
}

// records lists the step records of rep that hold facts, depth first: each
// step, or instead each item of a step that ran for each item; and the
// records of every plan a step (or item) ran. So a backup made through a
// plan step (plans/backup-many.yaml) or a TLS audit inside
// plans/e20-audit.yaml counts like one made by the plan run itself.
func records(rep *runner.Report) []record {
	var out []record
	var walk func(prefix string, rep *runner.Report)
	walk = func(prefix string, rep *runner.Report) {
		for i := range rep.Steps {
			st := &rep.Steps[i]
			if len(st.Items) == 0 {
				out = append(out, record{path: prefix + st.ID, rep: rep, st: st})
				if st.Run != nil {
					walk(prefix+st.ID+"/", st.Run)
				}
				continue
			}
			for j := range st.Items {
				it := &st.Items[j]
				path := prefix + st.ID + "[" + it.Key + "]"
				out = append(out, record{path: path, rep: rep, st: it, key: it.Key})
				if it.Run != nil {
					walk(path+"/", it.Run)
				}
			}
		}
	}
	walk("", rep)
	return out
}

// upstream returns the record a record's step reads its stream from: the
// step named by its input, or that step's item of the same key.
func (r record) upstream() *runner.StepReport {
	up := r.rep.Step(r.st.Input)
	if up == nil || r.key == "" {
		return up
	}
	for i := range up.Items {
		if up.Items[i].Key == r.key {
			return &up.Items[i]
		}
	}
	return nil
}
