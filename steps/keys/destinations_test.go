package keys

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
)

func TestDestinations(t *testing.T) {
	path := t.TempDir()
	d, _, err := InitDir(path, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	// Without destinations the ledger stays version 2, which older sluice
	// releases read.
	if raw, _ := os.ReadFile(filepath.Join(path, LedgerFile)); !bytes.Contains(raw, []byte(`"version": 2`)) {
		t.Fatalf("a ledger without destinations:\n%s", raw)
	}
	t.Chdir(t.TempDir())
	wd, _ := filepath.Abs(".")
	for _, tc := range []struct {
		url   string
		added bool
	}{
		{"file://./backups/2024-01-01", true},
		{"backups/2024-01-01/", false}, // the same folder, spelt otherwise
		{"./backups/2024-01-02", true},
		{"file://./backups", true},          // replaces both
		{"backups/2024-01-03", false},       // covered
		{"s3://bucket/app/?region=x", true}, // query dropped
		{"s3://bucket/app/daily", false},    // covered
		{"s3://bucket/application", true},   // not under s3://bucket/app
	} {
		added, err := d.AddDestination(tc.url, "test")
		if err != nil || added != tc.added {
			t.Errorf("AddDestination(%s) = %v, %v; want %v", tc.url, added, err, tc.added)
		}
	}
	want := []string{"file://" + wd + "/backups", "s3://bucket/app", "s3://bucket/application"}
	d2, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range d2.Destinations() {
		got = append(got, k.URL)
		if k.Since.IsZero() || !strings.HasPrefix(k.By, "test (") {
			t.Errorf("destination %+v lacks its time or actor", k)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("destinations = %v, want %v", got, want)
	}
	if raw, _ := os.ReadFile(filepath.Join(path, LedgerFile)); !bytes.Contains(raw, []byte(`"version": 3`)) {
		t.Errorf("a ledger with destinations is not version 3:\n%s", raw)
	}
	if miss := Uncovered(d2.Destinations(), []string{"file://" + wd, "s3://bucket/app"}); len(miss) != 1 || miss[0].URL != "s3://bucket/application" {
		t.Errorf("Uncovered = %v", miss)
	}
	if k, ok, err := d2.Known("backups/2024-05-05"); err != nil || !ok || k.URL != want[0] {
		t.Errorf("Known = %v, %v, %v", k, ok, err)
	}
	if found, err := d2.ForgetDestination("s3://bucket/app/"); err != nil || !found {
		t.Errorf("ForgetDestination = %v, %v", found, err)
	}
	if found, err := d2.ForgetDestination("s3://bucket/app"); err != nil || found {
		t.Errorf("ForgetDestination twice = %v, %v", found, err)
	}
	if len(d2.Destinations()) != 2 {
		t.Errorf("after forget: %v", d2.Destinations())
	}
	// A ledger from a newer sluice is refused, with the way out.
	raw, _ := os.ReadFile(filepath.Join(path, LedgerFile))
	os.WriteFile(filepath.Join(path, LedgerFile), bytes.Replace(raw, []byte(`"version": 3`), []byte(`"version": 4`), 1), 0o644)
	if _, err := OpenDir(path); err == nil || !strings.Contains(err.Error(), "upgrade sluice") {
		t.Errorf("ledger version 4: %v", err)
	}
}

// TestDestinationsSurviveRotation records a destination from a second
// process's view of the store (another Dir, another lock file handle)
// while a rotation holds the store's lock: the rotation's ledger write
// must keep it, and the destination's write the rotation's keys.
func TestDestinationsSurviveRotation(t *testing.T) {
	path := t.TempDir()
	if _, _, err := InitDir(path, TypeX25519); err != nil {
		t.Fatal(err)
	}
	rot, _ := OpenDir(path)
	unlock, err := rot.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	backup, _ := OpenDir(path)
	if _, err := backup.AddDestination("/srv/backups/app", "upload"); err != nil {
		t.Fatal(err)
	}
	if _, err := rot.Rotate(RotateOptions{Type: TypeX25519}); err != nil {
		t.Fatal(err)
	}
	unlock()
	check := func(wantDests, wantKeys int) {
		t.Helper()
		d, err := OpenDir(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Destinations()) != wantDests || len(d.Keys()) != wantKeys {
			t.Fatalf("ledger has %d destinations and %d keys, want %d and %d", len(d.Destinations()), len(d.Keys()), wantDests, wantKeys)
		}
	}
	check(1, 2)

	// Many at once: every rotation and every destination is kept.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := OpenDir(path)
			unlock, err := d.Lock(context.Background(), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			if _, err := d.Rotate(RotateOptions{Type: TypeX25519, Reason: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := OpenDir(path)
			if _, err := d.AddDestination(fmt.Sprintf("s3://bucket/host-%d", i), "upload"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	check(13, 5)
}

// TestDestinationOnReadOnlyStore: a backup host's copy of the store that
// cannot be written (a read-only mount, a Secret) refuses the record with
// an error and stays as it was.
func TestDestinationOnReadOnlyStore(t *testing.T) {
	path := t.TempDir()
	if _, _, err := InitDir(path, TypeX25519); err != nil {
		t.Fatal(err)
	}
	d, _ := OpenDir(path)
	makeReadOnly(t, path)
	before, _ := os.ReadFile(filepath.Join(path, LedgerFile))
	if _, err := d.AddDestination("/srv/backups", "upload"); err == nil || !strings.Contains(err.Error(), "recording destination file:///srv/backups in the ledger") {
		t.Fatalf("AddDestination on a read-only store: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(path, LedgerFile)); !bytes.Equal(before, after) {
		t.Error("the ledger changed")
	}
	if len(d.Destinations()) != 0 {
		t.Error("the destination is remembered in memory")
	}
}

// makeReadOnly makes the folder path unwritable, for root too (chattr +i
// where chmod is not enough), until the test ends.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o700) })
	probe := filepath.Join(path, ".probe")
	if f, err := os.Create(probe); err != nil {
		return // chmod suffices: not root
	} else {
		f.Close()
		os.Remove(probe)
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		testenv.SkipUnlessCI(t, "cannot make %s read-only as root (chattr +i: %v: %s)", path, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}
