package steps

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
)

// backup uploads data with a checksum step and returns the object's path.
func backup(t *testing.T, data []byte) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "app.dump.age")
	_, p := consume(t, &Upload{To: to}, data)
	if _, err := p.Commit(context.Background(), stream(t, data, "sha256")); err != nil {
		t.Fatal(err)
	}
	return to
}

func download(from string) ([]byte, map[string]any, error) {
	var buf bytes.Buffer
	out, err := (&Download{From: from}).Produce(context.Background(), testStepContext("download"), &buf)
	return buf.Bytes(), out, err
}

func TestDownloadVerifiesRoundTrip(t *testing.T) {
	data := randomData(t, 300<<10)
	path := backup(t, data)
	got, out, err := download("file://" + path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, different from the %d uploaded", len(got), len(data))
	}
	if out["verified"] != true || out["bytes"] != int64(len(data)) || out["manifest"] != "file://"+path+".manifest.json" {
		t.Fatalf("outputs = %v", out)
	}
}

// TestDownloadDetectsCorruption: a damaged object fails at the digest
// check, and not one of its bytes went downstream first.
func TestDownloadDetectsCorruption(t *testing.T) {
	data := randomData(t, 100<<10)
	tests := map[string]func(path string) error{
		"bit flipped": func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x10
			return os.WriteFile(path, b, 0o600)
		},
		"truncated": func(path string) error { return os.Truncate(path, int64(len(data)-1)) },
		"truncated without sidecar": func(path string) error {
			if err := os.Remove(path + ".sha256"); err != nil {
				return err
			}
			return os.Truncate(path, 10)
		},
	}
	for name, damage := range tests {
		t.Run(name, func(t *testing.T) {
			path := backup(t, data)
			if err := damage(path); err != nil {
				t.Fatal(err)
			}
			got, _, err := download(path)
			if err == nil || !strings.Contains(err.Error(), "corrupted or truncated: digest mismatch (want sha256:") {
				t.Fatalf("error = %v, want a digest mismatch", err)
			}
			// A restore downstream runs what it reads: nothing may reach
			// it before the whole object matched.
			if len(got) != 0 {
				t.Errorf("%d bytes went downstream before the digest check failed", len(got))
			}
			t.Log(err)
		})
	}
}

// TestDownloadWithoutRecords: an object without a manifest is refused,
// unless allow_unsigned accepts it.
func TestDownloadWithoutRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain.bin")
	if err := os.WriteFile(path, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _, err := download(path)
	if err == nil || len(got) != 0 || !strings.Contains(err.Error(), "not signed: it has no manifest") {
		t.Fatalf("download without a manifest = %q, %v; want refused before any byte", got, err)
	}
	var buf bytes.Buffer
	out, err := (&Download{From: path, AllowUnsigned: true}).Produce(context.Background(), testStepContext("download"), &buf)
	if err != nil || buf.String() != "hello" {
		t.Fatalf("download with allow_unsigned = %q, %v", buf.String(), err)
	}
	if out["verified"] != false || out["manifest"] != "" || out["signature"] != "unsigned" {
		t.Fatalf("outputs = %v, want nothing verified, no manifest, unsigned", out)
	}
}

func TestDownloadRecordsDisagree(t *testing.T) {
	path := backup(t, []byte("data"))
	// A sidecar that matches neither the data nor the manifest.
	side := strings.Repeat("0", 64) + "  app.dump.age\n"
	if err := os.WriteFile(path+".sha256", []byte(side), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := download(path); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("error = %v, want the records to disagree", err)
	}
}

func TestDownloadMissing(t *testing.T) {
	_, _, err := download(filepath.Join(t.TempDir(), "nope.age"))
	if !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("error = %v, want ErrNotExist", err)
	}
}

// TestDownloadStopsAtRecordedSize: an object replaced by a larger one
// fails as soon as it passes the size its manifest records, not at its
// end: download holds the bytes on disk until the check, and a huge
// replacement would fill it first.
func TestDownloadStopsAtRecordedSize(t *testing.T) {
	data := randomData(t, 100<<10)
	path := backup(t, data)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 4<<20))
	f.Close()
	got, out, err := download(path)
	if err == nil || !strings.Contains(err.Error(), "larger than the 102") || len(got) != 0 {
		t.Fatalf("error %v, %d bytes downstream", err, len(got))
	}
	if n := out["bytes"].(int64); n > 2<<20 {
		t.Errorf("read %d bytes of a replacement past the recorded %d", n, len(data))
	}
}
