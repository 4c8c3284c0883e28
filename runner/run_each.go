package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxItems is how many items one for_each may have.
const MaxItems = 10000

// item is one element of a for_each: the values its step sees as each.key
// and each.value, and its own run folder.
type item struct {
	key   any // a map's key (string) or a list's index (int)
	value any
	label string // the key as text, for logs and messages
	dir   string
}

// eachValue is what expressions see as each.
func (it *item) eachValue() map[string]any {
	return map[string]any{"key": it.key, "value": it.value}
}

// runEach runs a unit whose first step (an action, or a stream's source) has
// for_each: the unit once per item, at most max_parallel (default
// settings.concurrency) at once. Each item of a stream gets its own pipes,
// and its sinks commit or roll back on that item's own outcome. A failed
// item fails the step after the other items finished, or, with fail_fast,
// cancels the items still running and those not started.
func (r *run) runEach(ctx context.Context, u *unit) {
	s := u.steps[0]
	if s.When == nil {
		for _, d := range s.Deps {
			if st := r.status(d); st != StatusSucceeded {
				for _, m := range u.steps {
					r.skip(m, fmt.Sprintf("dependency %q %s", d, st))
				}
				return
			}
		}
	}
	items, list, err := r.forEachItems(ctx, s)
	if err != nil {
		r.finish(s, r.conclude(ctx, attemptResult{err: &StepError{Step: s.ID, Err: err}}, time.Now(), 0), nil)
		for _, m := range u.steps[1:] {
			r.finish(m, cancelled(&errFailFast{step: s.ID}), nil)
		}
		return
	}
	if len(items) == 0 {
		for _, m := range u.steps {
			r.skip(m, "for_each has no items")
		}
		return
	}
	limit := s.MaxParallel
	if limit <= 0 {
		limit = max(r.plan.Settings.Concurrency, 1)
	}
	r.log.Info("step started for each item", "step", s.ID, "items", len(items), "at_once", min(limit, len(items)))
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]map[string]record, len(items))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, it := range items {
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-ictx.Done():
		}
		if ictx.Err() != nil {
			if acquired {
				<-sem
			}
			results[i] = map[string]record{}
			for _, m := range u.steps {
				results[i][m.ID] = cancelled(r.stopCause(ictx))
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			recs := r.runItem(ictx, u, it)
			results[i] = recs
			for _, m := range u.steps {
				if recs[m.ID].status == StatusFailed && s.FailFast {
					cancel(&errFailFast{step: s.ID, item: it.label})
				}
			}
		}()
	}
	wg.Wait()
	for _, m := range u.steps {
		rec, its := r.aggregate(m, items, results, list)
		r.finish(m, rec, its)
	}
}

// runItem runs the unit for one item and returns each member's record.
func (r *run) runItem(ctx context.Context, u *unit, it *item) map[string]record {
	s := u.steps[0]
	log := r.log.With("item", it.label)
	if err := os.MkdirAll(it.dir, 0o700); err != nil {
		recs := map[string]record{s.ID: r.conclude(ctx, attemptResult{err: &StepError{Step: s.ID, Err: fmt.Errorf("creating the item's folder: %w", err)}}, time.Now(), 0)}
		for _, m := range u.steps[1:] {
			recs[m.ID] = cancelled(&errFailFast{step: s.ID, item: it.label})
		}
		return recs
	}
	var (
		recs map[string]record
		whys map[string]string
	)
	if u.group {
		recs, whys = r.groupRecords(ctx, u, it)
	} else {
		rec, why := r.actionRecord(ctx, s, it)
		recs, whys = map[string]record{s.ID: rec}, map[string]string{s.ID: why}
	}
	for _, m := range u.steps {
		rec := recs[m.ID]
		switch rec.status {
		case StatusSkipped:
			log.Info("item skipped", "step", m.ID, "reason", r.red.Redact(whys[m.ID]))
		case StatusFailed:
			log.Error("item failed", "step", m.ID, "error", r.red.Redact(rec.err.Error()))
		default:
			log.Info("item finished", "step", m.ID, "status", rec.status)
		}
	}
	return recs
}

// forEachItems evaluates s's for_each into its items, in order: a list's
// elements by index, a map's entries by key. list reports which it was.
func (r *run) forEachItems(ctx context.Context, s *Step) (items []*item, list bool, err error) {
	v := s.ForEach.Literal
	if s.ForEach.Expr != nil {
		if v, err = s.ForEach.Expr.Eval(r.env(ctx)); err != nil {
			return nil, false, fmt.Errorf("evaluating for_each %q: %w", s.ForEach.Expr.String(), err)
		}
		// An empty list or map runs nothing on purpose; no value at all is
		// a param not given or an output never set, whose gates would
		// otherwise pass unevaluated.
		if v == nil {
			return nil, false, fmt.Errorf("for_each %q has no value (a param not given, an output not set): give it a list or a map, or an empty one to run nothing", s.ForEach.Expr.String())
		}
	}
	all, list, err := splitItems(v)
	if err != nil {
		return nil, false, err
	}
	used := map[string]bool{}
	for _, si := range all {
		// A key may hold a password (a map keyed by connection string).
		base := folderName(r.red.Redact(si.label))
		name := base
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		used[name] = true
		items = append(items, &item{key: si.key, value: si.value, label: si.label, dir: filepath.Join(r.dir, s.ID, name)})
	}
	return items, list, nil
}

// folderName makes an item key safe as a folder name.
func folderName(key string) string {
	var b strings.Builder
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || strings.Trim(s, ".") == "" || len(s) > 64 {
		return "item"
	}
	return s
}

// kindText describes a value's kind for messages, never its content.
func kindText(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, int32, float64, float32:
		return "a number"
	case time.Duration:
		return "a duration"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// aggregate makes the record of member m of a for_each unit from its items':
// failed when an item failed (the error names them), else cancelled when
// one was, else skipped when all were, else succeeded. Its outputs are
// "each": the items' outputs with their key and status, a list for a list
// and keyed for a map.
func (r *run) aggregate(m *Step, items []*item, results []map[string]record, list bool) (record, []*itemRun) {
	rec := record{status: StatusSucceeded}
	var (
		its      []*itemRun
		failures []ItemError
		firstCxl error
		anyRan   bool
		listOuts []any
		byKey    = eachItems{}
	)
	for i, it := range items {
		ir := &itemRun{key: it.key, record: results[i][m.ID]}
		its = append(its, ir)
		switch ir.status {
		case StatusFailed:
			failures = append(failures, ItemError{Key: it.key, Err: ir.err})
		case StatusCancelled:
			if firstCxl == nil {
				firstCxl = ir.err
			}
		}
		if ir.status != StatusSkipped {
			anyRan = true
		}
		if !ir.started.IsZero() {
			if rec.started.IsZero() || ir.started.Before(rec.started) {
				rec.started = ir.started
			}
			if ir.finished.After(rec.finished) {
				rec.finished = ir.finished
			}
		}
		rec.attempts = max(rec.attempts, ir.attempts)
		if ir.bytes != nil {
			if rec.bytes == nil {
				rec.bytes = &ByteCounts{}
			}
			rec.bytes.In += ir.bytes.In
			rec.bytes.Out += ir.bytes.Out
		}
		entry := make(map[string]any, len(ir.outputs)+2)
		for k, v := range ir.outputs {
			entry[k] = v
		}
		entry["key"], entry["status"] = it.key, string(ir.status)
		if list {
			listOuts = append(listOuts, entry)
		} else {
			byKey[it.label] = entry
		}
	}
	switch {
	case len(failures) > 0:
		rec.status, rec.err = StatusFailed, &ItemsError{Step: m.ID, Total: len(items), Items: failures}
	case firstCxl != nil:
		rec.status, rec.err = StatusCancelled, firstCxl
	case !anyRan:
		rec.status = StatusSkipped
	}
	if list {
		rec.outputs = Outputs{"each": listOuts}
	} else {
		rec.outputs = Outputs{"each": byKey}
	}
	return rec, its
}

// ItemsError is the failure of a step that ran for each item: the items
// that failed, in order. It unwraps to the first one's error.
type ItemsError struct {
	Step  string
	Total int // items in all
	Items []ItemError
}

// ItemError is the failure of one item.
type ItemError struct {
	Key any // a map's key (string) or a list's index (int)
	Err error
}

func (e *ItemsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %q: ", e.Step)
	if len(e.Items) > 1 {
		fmt.Fprintf(&b, "%d of %d items failed: ", len(e.Items), e.Total)
	}
	for i, it := range e.Items {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "item %s: %s", keyText(it.Key), strings.TrimPrefix(it.Err.Error(), fmt.Sprintf("step %q: ", e.Step)))
	}
	return b.String()
}

// Unwrap returns the first failed item's error, so that errors.As finds a
// failed gate there.
func (e *ItemsError) Unwrap() error { return e.Items[0].Err }

// keyText shows an item key: a map key quoted, a list index as a number.
func keyText(k any) string {
	if s, ok := k.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(k)
}
