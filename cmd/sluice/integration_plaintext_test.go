package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/pg"
	"github.com/sluice-dev/sluice/steps/pg/pgtest"
)

// roundTripPlan is the quickstart's backup and restore drill against given
// databases: dump -> compress -> encrypt -> checksum -> upload, then
// download -> decrypt -> decompress -> restore; with jobs above 1, in parts
// into a database the restore creates.
const roundTripPlan = `version: 1
params:
  db: {type: string, required: true, secret: true}
  target: {type: string, required: true, secret: true}
  dest: {type: string, required: true}
  jobs: {type: int, default: 1}
keys:
  k: {store: dir, path: ./keys/k}
steps:
  dump: {type: dump, with: {url: "${{ params.db }}", jobs: "${{ params.jobs }}"}}
  compress: {type: compress, input: dump}
  encrypt: {type: encrypt, input: compress, with: {key: k}}
  checksum: {type: checksum, input: encrypt}
  upload:
    type: upload
    input: checksum
    with: {to: "file://${{ params.dest }}/${{ run.id }}/app.dump.zst.age"}
  download: {type: download, with: {from: "${{ steps.upload.url }}", jobs: "${{ params.jobs }}"}}
  decrypt: {type: decrypt, input: download, with: {key: k, expected_key_ids: "${{ steps.encrypt.key_ids }}"}}
  decompress: {type: decompress, input: decrypt}
  restore:
    type: restore
    input: decompress
    with: {url: "${{ params.target }}", create: "${{ params.jobs > 1 }}"}
    assert:
      - that: steps.restore.rows > 0
        message: nothing was restored
`

// testNoPlaintextOnDisk runs a backup and restore (with jobs above 1, a
// backup in parts restored part by part) with TMPDIR, the run folder and the
// destination inside one folder, and proves no file there ever holds the
// data in the clear: neither after the run nor while it runs (a watcher
// reads every file it sees every few milliseconds). A plain pg_dump written
// on purpose elsewhere shows the scan finds the marker.
func testNoPlaintextOnDisk(t *testing.T, c *pg.Cluster, jobs int) {
	src := seeded(t, c)
	marker := pgtest.Marker(t, c, src)
	dst := pgtest.NewDB(t, c)
	if jobs > 1 {
		dst = freshName(t, c) // a backup in parts restores into a database it creates
	}

	work := t.TempDir()
	scanned := filepath.Join(work, "scanned")
	tmp, state, dest := filepath.Join(scanned, "tmp"), filepath.Join(scanned, "runs"), filepath.Join(scanned, "backups")
	for _, d := range []string{tmp, state, dest} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(work)
	t.Setenv("TMPDIR", tmp)
	if err := os.WriteFile("plan.yaml", []byte(roundTripPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSluice(t, "keys", "init", "keys/k")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			during = append(during, plaintextFiles(scanned, marker)...)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	mustSluice(t, "run", "plan.yaml", "--state-dir", state,
		"--param", "db="+c.DSN(src), "--param", "target="+c.DSN(dst),
		"--param", "dest="+dest, "--param", "jobs="+strconv.Itoa(jobs))
	close(stop)
	wg.Wait()

	// The marker went through the whole stream (so the scan had something
	// to find), and the restored content equals the source.
	sameContent(t, c, src, dst)
	// One object: it, its sidecar, the manifest and its signature. In
	// parts: two files per part (at least pre-data, data, post-data).
	if n := len(filesUnder(t, dest)); (jobs == 1 && n != 4) || (jobs > 1 && n < 8) || len(filesUnder(t, state)) == 0 {
		t.Fatalf("expected a backup under %s and a report under %s: %v %v", dest, state, filesUnder(t, dest), filesUnder(t, state))
	}
	if hits := plaintextFiles(scanned, marker); len(hits) > 0 {
		t.Errorf("plaintext left on disk after the run: %v", hits)
	}
	if len(during) > 0 {
		t.Errorf("plaintext on disk during the run: %v", during)
	}

	// The control: the same scan finds the marker in a plain dump.
	control := filepath.Join(work, "control")
	if err := os.Mkdir(control, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, work, requirePGTool(t, "pg_dump"), "-Fc", "-Z0", "-f", filepath.Join(control, "plain.dump"), c.DSN(src))
	if hits := plaintextFiles(control, marker); len(hits) != 1 {
		t.Fatalf("the scan did not find the marker in a plain pg_dump (%v): it proves nothing", hits)
	}
}

// plaintextFiles returns the files under dir that contain marker or start
// like an unencrypted dump (pg_dump custom format, zstd, gzip). Files that
// vanish while being read are skipped.
func plaintextFiles(dir, marker string) []string {
	var hits []string
	magics := [][]byte{[]byte("PGDMP"), {0x28, 0xb5, 0x2f, 0xfd}, {0x1f, 0x8b}}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if bytes.Contains(data, []byte(marker)) {
			hits = append(hits, p+" (marker)")
			return nil
		}
		for _, m := range magics {
			if bytes.HasPrefix(data, m) {
				hits = append(hits, p+" (unencrypted dump header)")
				return nil
			}
		}
		return nil
	})
	return hits
}
