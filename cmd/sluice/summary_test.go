package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

// TestSummaryShowsWhereStreamTimeWent: per streaming step, its busy time
// and share of the stream, the speed it keeps alone, and the stream's
// slowest stage marked; actions and mostly-waiting steps show no speed.
func TestSummaryShowsWhereStreamTimeWent(t *testing.T) {
	step := func(id, typ, input string, kind runner.Kind, b *runner.ByteCounts) runner.StepReport {
		return runner.StepReport{ID: id, Type: typ, Input: input, Kind: kind, Status: runner.StatusSucceeded, DurationSeconds: 4, Bytes: b}
	}
	rep := &runner.Report{RunID: "r1", Status: runner.StatusSucceeded, DurationSeconds: 4, Steps: []runner.StepReport{
		step("dump", "dump", "", runner.KindSource, &runner.ByteCounts{Out: 400 << 20, OutWaitSeconds: 3, BusySeconds: 1}),
		step("compress", "compress", "dump", runner.KindTransform, &runner.ByteCounts{In: 400 << 20, Out: 100 << 20, InWaitSeconds: 0.2, BusySeconds: 3.8}),
		step("encrypt", "encrypt", "compress", runner.KindTransform, &runner.ByteCounts{In: 100 << 20, Out: 100 << 20, InWaitSeconds: 3.9, BusySeconds: 0.1}),
		step("upload", "upload", "encrypt", runner.KindSink, &runner.ByteCounts{In: 100 << 20, InWaitSeconds: 3.5, BusySeconds: 0.5}),
		step("note", "exec", "", runner.KindAction, nil),
	}}
	var out bytes.Buffer
	printSummary(&out, rep, ".sluice")
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	for id, want := range map[string]string{
		"dump":     `400\.0 MiB\s+1\.00s\s+25%\s+400\.0 MiB/s\s*$`,
		"compress": `100\.0 MiB\s+3\.80s\s+95%\s+105\.3 MiB/s\s+<- slowest stage`,
		"encrypt":  `100\.0 MiB\s+0\.10s\s+2%\s*$`,
		"upload":   `100\.0 MiB\s+0\.50s\s+12%\s+200\.0 MiB/s\s*$`,
		"note":     `exec\s+succeeded\s+4\.00s\s*$`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[id]) {
			t.Errorf("%s: line %q does not match %q\n%s", id, lines[id], want, out.String())
		}
	}
}

// TestSummarySlowestStagePerItem: a stream fanned out by for_each is one
// stream per item, each with its own slowest stage.
func TestSummarySlowestStagePerItem(t *testing.T) {
	item := func(key string, busy float64) runner.StepReport {
		return runner.StepReport{ID: key, Key: key, Status: runner.StatusSucceeded, DurationSeconds: 2, Bytes: &runner.ByteCounts{In: 1 << 20, Out: 1 << 20, BusySeconds: busy}}
	}
	rep := &runner.Report{RunID: "r2", Status: runner.StatusSucceeded, Steps: []runner.StepReport{
		{ID: "dump", Type: "dump", Kind: runner.KindSource, Status: runner.StatusSucceeded, Items: []runner.StepReport{item("shop", 1.5), item("blog", 0.2)}},
		{ID: "compress", Type: "compress", Input: "dump", Kind: runner.KindTransform, Status: runner.StatusSucceeded, Items: []runner.StepReport{item("shop", 0.5), item("blog", 1.8)}},
	}}
	var out bytes.Buffer
	printSummary(&out, rep, ".sluice")
	marked := regexp.MustCompile(`(?m)^\s*(\S+).*<- slowest stage`).FindAllStringSubmatch(out.String(), -1)
	var got []string
	for _, m := range marked {
		got = append(got, m[1])
	}
	if strings.Join(got, ",") != "dump[shop],compress[blog]" {
		t.Errorf("slowest stages %v, want dump[shop] and compress[blog]\n%s", got, out.String())
	}
}
