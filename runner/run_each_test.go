package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestRunForEachAction runs an action once per entry of a map param, at
// most max_parallel at once, and reads the items' outputs by key and as a
// list in later expressions.
func TestRunForEachAction(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
params:
  dbs: {type: map, default: {shop: s1, crm: c1, hr: h1, web: w1}}
steps:
  ping:
    type: act
    for_each: params.dbs
    max_parallel: 2
    with: {value: "${{ each.key }}=${{ each.value }}", sleep: 20ms, size: 3}
    assert: [steps.ping.value != ""]
  check:
    type: act
    assert:
      - that: all(steps.ping.each, {.status == "succeeded" && .bytes == 3})
      - that: steps.ping.each["shop"].value == "shop=s1"
      - that: len(steps.ping.each) == 4 && "crm" in steps.ping.each
      - that: map(steps.ping.each, {.key}) == ["crm", "hr", "shop", "web"]
`, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if events.peak != 2 {
		t.Errorf("%d items ran at once, want max_parallel 2", events.peak)
	}
	ping := rep.Step("ping")
	if ping.Status != StatusSucceeded || len(ping.Items) != 4 {
		t.Fatalf("ping: %s with %d items", ping.Status, len(ping.Items))
	}
	var keys []string
	for _, it := range ping.Items {
		keys = append(keys, it.Key)
		if it.Status != StatusSucceeded || it.Outputs["value"] != it.Key+"="+string(it.Key[0])+"1" || len(it.Gates) != 1 {
			t.Errorf("item %s: %s, outputs %v, gates %v", it.Key, it.Status, it.Outputs, it.Gates)
		}
	}
	if !slices.Equal(keys, []string{"crm", "hr", "shop", "web"}) {
		t.Errorf("items in order %v, want sorted keys", keys)
	}
	for _, g := range rep.Step("check").Gates {
		if !g.Passed {
			t.Errorf("gate %s failed: %s", g.Expr, g.Operands)
		}
	}
}

// TestRunForEachList runs over a literal list: keys are indices, each is a
// list.
func TestRunForEachList(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
steps:
  ping:
    type: act
    for_each: [a, b, c]
    with: {value: "${{ each.key }}:${{ each.value }}"}
  check:
    type: act
    assert: ['steps.ping.each[2].value == "2:c" && map(steps.ping.each, {.key}) == [0, 1, 2]']
`, RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	each, _ := rep.Step("ping").Outputs["each"].([]any)
	if len(each) != 3 {
		t.Fatalf("each = %#v, want a list of 3", rep.Step("ping").Outputs["each"])
	}
}

// TestRunForEachStream fans a stream out from its source: each item gets
// its own pipes and sinks. A failed item fails the step after the others
// finished; its sink rolls back, the others' commit.
func TestRunForEachStream(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	rep, err := runPlan(t, context.Background(), fmt.Sprintf(`
version: 1
steps:
  src:
    type: gen
    for_each: [100000, 5, 200000]
    with: {size: "${{ each.value }}", pattern: "x${{ each.key }}"}
  up: {type: upper, input: src}
  sink:
    type: file
    input: up
    with: {path: %q, per_item: true}
    assert: [{that: steps.sink.bytes > 10, message: too small}]
  after: {type: act, needs: [sink]}
`, out), RunOptions{})
	var ge *GateError
	if !errors.As(err, &ge) || ge.Step != "sink" {
		t.Fatalf("error = %v, want the gate of item 1", err)
	}
	if want := `step "sink": item 1: assertion failed: steps.sink.bytes > 10: steps.sink.bytes = 5 (too small)`; err.Error() != want {
		t.Errorf("error =\n %s\nwant\n %s", err, want)
	}
	for i, size := range map[int]int{0: 100000, 2: 200000} {
		b, err := os.ReadFile(fmt.Sprintf("%s.%d", out, i))
		if err != nil || len(b) != size || !strings.HasPrefix(string(b), fmt.Sprintf("X%d", i)) {
			t.Errorf("item %d: %d bytes, %v; want its own stream committed", i, len(b), err)
		}
	}
	if left, _ := filepath.Glob(out + ".1*"); len(left) != 0 {
		t.Errorf("the failed item left %v", left)
	}
	want := map[string]Status{"src": StatusSucceeded, "up": StatusSucceeded, "sink": StatusFailed, "after": StatusCancelled}
	for id, st := range want {
		if got := stepStatus(t, rep, id); got != st {
			t.Errorf("%s: %s, want %s", id, got, st)
		}
	}
	sink := rep.Step("sink")
	if len(sink.Items) != 3 || sink.Items[1].Status != StatusFailed || sink.Items[0].Status != StatusSucceeded || sink.Bytes.In != 300005 {
		t.Errorf("sink items %+v, bytes %+v", sink.Items, sink.Bytes)
	}
}

// TestRunForEachFailFast cancels the items still running when one fails:
// their sinks roll back, and items not started are cancelled.
func TestRunForEachFailFast(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	rep, err := runPlan(t, context.Background(), fmt.Sprintf(`
version: 1
steps:
  src:
    type: gen
    for_each: [-1, 1000, -1, -1]
    max_parallel: 2
    fail_fast: true
    with: {size: 300000, hang_at: "${{ each.value == -1 ? 2000 : -1 }}", fail_at: "${{ each.value }}"}
  sink: {type: file, input: src, with: {path: %q, per_item: true}}
`, out), RunOptions{})
	var ie *ItemsError
	if !errors.As(err, &ie) || len(ie.Items) != 1 || ie.Items[0].Key != 1 {
		t.Fatalf("error = %v, want item 1's failure alone", err)
	}
	items := rep.Step("src").Items
	got := []Status{items[0].Status, items[1].Status, items[2].Status, items[3].Status}
	if !reflect.DeepEqual(got, []Status{StatusCancelled, StatusFailed, StatusCancelled, StatusCancelled}) {
		t.Errorf("item statuses %v", got)
	}
	if !strings.Contains(items[3].Error, `cancelled because item "1" of step "src" failed (fail_fast)`) {
		t.Errorf("item 3's error %q", items[3].Error)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if s := events.snapshot(); slices.ContainsFunc(s, func(e string) bool { return strings.HasPrefix(e, "commit") }) {
		t.Errorf("a sink committed: %v", s)
	}
}

// TestRunForEachEmptyAndBad: an empty for_each skips the step; one that is
// not a list or a map fails it, saying what it was and never its value.
func TestRunForEachEmptyAndBad(t *testing.T) {
	defer goleak.VerifyNone(t)
	rep, err := runPlan(t, context.Background(), `
version: 1
params:
  none: {type: list, default: []}
steps:
  empty: {type: act, for_each: params.none}
  after: {type: act, needs: [empty]}
`, RunOptions{})
	if err != nil || stepStatus(t, rep, "empty") != StatusSkipped || stepStatus(t, rep, "after") != StatusSkipped {
		t.Fatalf("error %v, empty %s", err, stepStatus(t, rep, "empty"))
	}
	_, err = runPlan(t, context.Background(), `
version: 1
steps:
  bad: {type: act, for_each: env.MODE}
`, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), `step "bad": for_each is a string, not a list or a map`) || strings.Contains(err.Error(), "test") {
		t.Fatalf("error = %v", err)
	}
}

// TestForEachWithoutValueFails: an optional map param that was not given
// makes for_each run nothing; the step was skipped, its gates never ran,
// and the run exited 0 with no backup made. No value is an error now; an
// empty map still runs nothing.
func TestForEachWithoutValueFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	plan := `
version: 1
params:
  dbs: {type: map}
steps:
  each: {type: act, for_each: "${{ params.dbs }}", assert: ["true"]}
`
	rep, err := runPlan(t, context.Background(), plan, RunOptions{})
	if err == nil || rep.Status != StatusFailed || !strings.Contains(err.Error(), "has no value") {
		t.Fatalf("for_each over a param not given: run %s, %v; want failed, saying it has no value", rep.Status, err)
	}
	rep, err = runPlan(t, context.Background(), plan, RunOptions{Params: map[string]any{"dbs": map[string]any{}}})
	if err != nil || stepStatus(t, rep, "each") != StatusSkipped {
		t.Fatalf("for_each over an empty map: %v, %v; want the step skipped", stepStatus(t, rep, "each"), err)
	}
}
