package runner

import (
	"context"
	"slices"
	"testing"
)

// End-of-run work registered by steps runs after every step, last
// registered first, also when the run fails.
func TestRunAtEndRunsLastFirstEvenOnFailure(t *testing.T) {
	_, err := runPlan(t, context.Background(), `
version: 1
settings: {concurrency: 1}
steps:
  first: {type: act, with: {at_end: true}}
  second: {type: act, needs: [first], with: {at_end: true}}
  boom: {type: act, needs: [second], with: {fails: -1}}
`, RunOptions{})
	if err == nil {
		t.Fatal("run succeeded, want boom's failure")
	}
	log := events.snapshot()
	iSecond, iFirst := slices.Index(log, "at-end second"), slices.Index(log, "at-end first")
	endBoom := slices.Index(log, "end boom")
	if iSecond < 0 || iFirst < 0 || iSecond > iFirst || endBoom > iSecond {
		t.Errorf("end-of-run order = %v, want every step ended, then second, then first", log)
	}
}
