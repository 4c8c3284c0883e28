// Package blobtest is the conformance suite every blob.Backend must pass. A
// backend's test calls Run with a Harness that makes fresh, empty backends.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
)

// Harness builds backends for the suite.
type Harness struct {
	// New returns a backend over an empty, writable location, removed when t
	// ends.
	New func(t *testing.T) blob.Backend
	// ReadOnly returns a backend whose location refuses writes. It may skip
	// t, printing why, when the machine cannot make such a location.
	ReadOnly func(t *testing.T) blob.Backend
}

// Run runs every conformance test against the harness's backends.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b blob.Backend)
	}{
		{"CreateCommitVisible", testCreateCommit},
		{"AbortLeavesNothing", testAbort},
		{"NoOverwrite", testNoOverwrite},
		{"ConcurrentCommitNoClobber", testConcurrentCommit},
		{"Overwrite", testOverwrite},
		{"PutSmallObject", testPut},
		{"List", testList},
		{"Remove", testRemove},
		{"Missing", testMissing},
		{"InvalidNames", testInvalidNames},
		{"CancelledCommit", testCancelledCommit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h.New(t)) })
	}
	t.Run("ReadOnlyDestination", func(t *testing.T) { testReadOnly(t, h.ReadOnly(t)) })
}

// write creates, writes and commits name.
func write(t *testing.T, b blob.Backend, name string, data []byte, opts blob.CreateOptions) {
	t.Helper()
	w, err := b.Create(context.Background(), name, opts)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", name, err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatalf("Commit(%q): %v", name, err)
	}
}

// read returns the content of name.
func read(t *testing.T, b blob.Backend, name string) []byte {
	t.Helper()
	rc, err := b.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", name, err)
	}
	return data
}

// names lists every object of b.
func names(t *testing.T, b blob.Backend) []string {
	t.Helper()
	infos, err := b.List(context.Background(), "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Name)
	}
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	return data
}

func testCreateCommit(t *testing.T, b blob.Backend) {
	ctx := context.Background()
	data := randomBytes(t, 3<<20+17)
	w, err := b.Create(ctx, "day/app.dump", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for chunk := data; len(chunk) > 0; {
		n := min(len(chunk), 64<<10)
		if _, err := w.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		chunk = chunk[n:]
	}
	if _, err := b.Stat(ctx, "day/app.dump"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("pending object is visible before Commit: Stat error = %v", err)
	}
	if got := names(t, b); len(got) != 0 {
		t.Fatalf("List before Commit = %q, want nothing", got)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	if got := read(t, b, "day/app.dump"); !bytes.Equal(got, data) {
		t.Fatalf("content differs after Commit: got %d bytes, want %d", len(got), len(data))
	}
	info, err := b.Stat(ctx, "day/app.dump")
	if err != nil || info.Size != int64(len(data)) || info.Name != "day/app.dump" {
		t.Fatalf("Stat = %+v, %v; want size %d", info, err, len(data))
	}
	if got := names(t, b); len(got) != 1 || got[0] != "day/app.dump" {
		t.Fatalf("List = %q, want [day/app.dump]", got)
	}
}

func testAbort(t *testing.T, b blob.Backend) {
	w, err := b.Create(context.Background(), "gone.bin", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(t, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if err := w.Commit(context.Background()); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if got := names(t, b); len(got) != 0 {
		t.Fatalf("List after Abort = %q, want nothing", got)
	}
}

func testNoOverwrite(t *testing.T, b blob.Backend) {
	write(t, b, "x", []byte("first"), blob.CreateOptions{})
	_, err := b.Create(context.Background(), "x", blob.CreateOptions{})
	if !errors.Is(err, blob.ErrExist) {
		t.Fatalf("Create over an existing object: error = %v, want ErrExist", err)
	}
	if got := read(t, b, "x"); string(got) != "first" {
		t.Fatalf("existing object changed to %q", got)
	}
}

func testConcurrentCommit(t *testing.T, b blob.Backend) {
	ctx := context.Background()
	w1, err := b.Create(ctx, "race", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := b.Create(ctx, "race", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w1.Write([]byte("one"))
	w2.Write([]byte("two"))
	if err := w1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w2.Commit(ctx); !errors.Is(err, blob.ErrExist) {
		t.Fatalf("second Commit: error = %v, want ErrExist", err)
	}
	if err := w2.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, "race"); string(got) != "one" {
		t.Fatalf("object = %q after a refused Commit, want %q", got, "one")
	}
	if got := names(t, b); len(got) != 1 {
		t.Fatalf("List = %q, want only race", got)
	}
}

func testOverwrite(t *testing.T, b blob.Backend) {
	write(t, b, "x", []byte("first"), blob.CreateOptions{})
	write(t, b, "x", []byte("second"), blob.CreateOptions{Overwrite: true})
	if got := read(t, b, "x"); string(got) != "second" {
		t.Fatalf("object = %q after overwrite, want %q", got, "second")
	}
}

func testPut(t *testing.T, b blob.Backend) {
	ctx := context.Background()
	if err := b.Put(ctx, "a/m.json", []byte("{}\n"), blob.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, "a/m.json"); string(got) != "{}\n" {
		t.Fatalf("Put wrote %q", got)
	}
	if err := b.Put(ctx, "a/m.json", []byte("[]"), blob.CreateOptions{}); !errors.Is(err, blob.ErrExist) {
		t.Fatalf("second Put: error = %v, want ErrExist", err)
	}
	if err := b.Put(ctx, "a/m.json", []byte("[]"), blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if got := names(t, b); len(got) != 1 {
		t.Fatalf("List = %q, want only a/m.json", got)
	}
}

func testList(t *testing.T, b blob.Backend) {
	for _, n := range []string{"b/2", "a/1", "a/3/x", "ab", "c"} {
		write(t, b, n, []byte(n), blob.CreateOptions{})
	}
	pending, err := b.Create(context.Background(), "a/pending", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Abort()
	for prefix, want := range map[string]string{
		"":    "a/1 a/3/x ab b/2 c",
		"a":   "a/1 a/3/x ab",
		"a/":  "a/1 a/3/x",
		"a/3": "a/3/x",
		"zz":  "",
	} {
		infos, err := b.List(context.Background(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for i, in := range infos {
			if i > 0 {
				got = append(got, ' ')
			}
			got = append(got, in.Name...)
		}
		if string(got) != want {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func testRemove(t *testing.T, b blob.Backend) {
	ctx := context.Background()
	write(t, b, "r", []byte("x"), blob.CreateOptions{})
	if err := b.Remove(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, "r"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Open after Remove: error = %v, want ErrNotExist", err)
	}
	if err := b.Remove(ctx, "r"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("second Remove: error = %v, want ErrNotExist", err)
	}
}

func testMissing(t *testing.T, b blob.Backend) {
	ctx := context.Background()
	if _, err := b.Open(ctx, "no/such"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Open: error = %v, want ErrNotExist", err)
	}
	if _, err := b.Stat(ctx, "no/such"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Stat: error = %v, want ErrNotExist", err)
	}
}

func testInvalidNames(t *testing.T, b blob.Backend) {
	for _, n := range []string{"", "/abs", "../up", "a//b", "a/./b", ".x.sluice-tmp-1"} {
		if _, err := b.Create(context.Background(), n, blob.CreateOptions{}); err == nil {
			t.Errorf("Create(%q) succeeded, want an invalid-name error", n)
		}
	}
}

func testCancelledCommit(t *testing.T, b blob.Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.Create(ctx, "c", blob.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data"))
	cancel()
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit with a cancelled context succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, b); len(got) != 0 {
		t.Fatalf("List = %q, want nothing", got)
	}
}

func testReadOnly(t *testing.T, b blob.Backend) {
	ctx := context.Background()
	err := b.Put(ctx, "ro/x", []byte("x"), blob.CreateOptions{})
	if err == nil {
		t.Fatal("Put into a read-only destination succeeded")
	}
	t.Logf("read-only error: %v", err)
	w, err := b.Create(ctx, "x", blob.CreateOptions{})
	if err == nil {
		_, werr := w.Write([]byte("x"))
		cerr := w.Commit(ctx)
		w.Abort()
		if werr == nil && cerr == nil {
			t.Fatal("Create+Commit into a read-only destination succeeded")
		}
	}
}
