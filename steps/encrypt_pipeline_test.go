package steps

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// cryptTestSource writes a fixed payload; cryptTestSink keeps what it reads.
// They stand in for dump and upload so the pipeline needs no database: the
// steps under test (compress, encrypt, decrypt, decompress) run for real.
type cryptTestSource struct{}

var cryptTestPayload = sqlLikeText(2 << 20)

func (cryptTestSource) Produce(_ context.Context, _ *runner.StepContext, w io.Writer) (runner.Outputs, error) {
	_, err := w.Write(cryptTestPayload)
	return nil, err
}

type cryptTestSink struct{}

var cryptTestSeen sync.Map // step id -> []byte

func (cryptTestSink) Consume(_ context.Context, sc *runner.StepContext, r io.Reader) (runner.Outputs, runner.Pending, error) {
	b, err := io.ReadAll(r)
	cryptTestSeen.Store(sc.RunID+"/"+sc.ID, b)
	return nil, runner.NothingPending, err
}

func cryptTestRegistry() *runner.Registry {
	return runner.NewRegistry(
		compressDefinition(), decompressDefinition(), encryptDefinition(), decryptDefinition(),
		runner.Definition{Type: "test-source", Kind: runner.KindSource, New: func() any { return &cryptTestSource{} }},
		runner.Definition{Type: "test-sink", Kind: runner.KindSink, New: func() any { return &cryptTestSink{} }},
	)
}

// TestCryptPipeline runs source | compress | encrypt | decrypt | decompress |
// sink through the runner: parameters bind from YAML, the key store comes
// from the plan's keys: section, and the bytes come out unchanged.
func TestCryptPipeline(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	_, k, err := keys.InitDir(keyDir, keys.TypeHybrid)
	if err != nil {
		t.Fatal(err)
	}
	plan := fmt.Sprintf(`version: 1
name: crypt
keys:
  backup: {store: dir, path: %s}
steps:
  src:        {type: test-source}
  compress:   {type: compress, input: src, with: {level: 3}}
  encrypt:    {type: encrypt, input: compress, with: {key: backup}}
  decrypt:    {type: decrypt, input: encrypt, with: {key: backup}}
  decompress: {type: decompress, input: decrypt}
  sink:
    type: test-sink
    input: decompress
    assert:
      - that: steps.compress.ratio > 2 && steps.decrypt.key_ids == steps.encrypt.key_ids
`, keyDir)
	p, err := runner.Load(filepath.Join(dir, "crypt.yaml"), []byte(plan), cryptTestRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{StateDir: filepath.Join(dir, ".sluice"), RunID: "r1"})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got, _ := cryptTestSeen.Load("r1/sink")
	if !bytes.Equal(got.([]byte), cryptTestPayload) {
		t.Fatal("the sink did not receive the original bytes")
	}
	enc := rep.Step("encrypt").Outputs
	if fmt.Sprint(enc["key_ids"]) != fmt.Sprint([]any{k.ID}) {
		t.Errorf("encrypt key_ids = %v, want [%s]", enc["key_ids"], k.ID)
	}
	if c := rep.Step("compress").Outputs; c["algorithm"] != "zstd" || fmt.Sprint(c["level"]) != "3" {
		t.Errorf("compress outputs = %v", c)
	}

	// The report holds key ids and recipients, never key material.
	report, err := os.ReadFile(filepath.Join(dir, ".sluice", "runs", "r1", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(report, []byte("AGE-SECRET-KEY")) {
		t.Error("report.json contains secret key material")
	}
}

func TestCryptPlanValidation(t *testing.T) {
	cases := map[string]string{
		"compress: {type: compress, input: src, with: {level: 30}}":            "level 30 is out of range for zstd",
		"encrypt: {type: encrypt, input: src, with: {}}":                       "set exactly one of key",
		"encrypt: {type: encrypt, input: src, with: {recipients: [age1nope]}}": "recipients[0]",
	}
	for step, want := range cases {
		plan := "version: 1\nsteps:\n  src: {type: test-source}\n  " + step + "\n"
		_, err := runner.Load("plan.yaml", []byte(plan), cryptTestRegistry())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: load error = %v, want %q", step, err, want)
		}
	}
}
