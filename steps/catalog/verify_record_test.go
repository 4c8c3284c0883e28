package catalog_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
)

// cutBackend stands in for storage that goes away mid-read (a mock: a real
// network failure cannot be produced on demand): reading object cuts off
// after a few bytes with a connection error.
type cutBackend struct {
	blob.Backend
	object string
}

func (c cutBackend) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := c.Backend.Open(ctx, name)
	if err != nil || name != c.object {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, 100), errorReader{errors.New("read tcp 127.0.0.1:9000: connection reset by peer")}), rc}, nil
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// TestVerifyKeepsRecordWhenNotChecked: a verify that could not check a
// healthy backup (storage cut off, no key that opens it) fails but leaves
// its earlier verify record alone; damage found still removes it.
func TestVerifyKeepsRecordWhenNotChecked(t *testing.T) {
	f := newVerifyFixture(t, blob.NewFile(t.TempDir()))
	f.backup(t, "a.age", time.Now(), 200<<10)
	if r := f.verify(t, "latest", true); !r[0].OK {
		t.Fatalf("%+v", r)
	}
	record := func() *catalog.Record {
		rec, err := catalog.ReadRecord(context.Background(), f.b, "a.age")
		if err != nil && !errors.Is(err, blob.ErrNotExist) {
			t.Fatal(err)
		}
		return rec
	}
	if record() == nil {
		t.Fatal("no record after a successful verify")
	}

	res, err := catalog.VerifyDest(context.Background(), cutBackend{f.b, "a.age"}, "latest", catalog.VerifyOptions{Keys: f.keys(), Record: true, Trust: f.trust(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].OK || !strings.Contains(res[0].Error, "connection reset") || !strings.Contains(res[0].Error, "verify record left as it was") {
		t.Errorf("cut storage: %+v", res[0])
	}
	if record() == nil {
		t.Fatal("a verify cut off by storage removed the record")
	}

	other := newVerifyFixture(t, f.b)
	other.signers = f.keyDir // signed by f's key, opened with other's
	if r := other.verify(t, "latest", true); r[0].OK || !strings.Contains(r[0].Error, "no key opens") {
		t.Errorf("other key: %+v", r[0])
	}
	if record() == nil {
		t.Fatal("a verify with a key that does not open the backup removed the record")
	}

	data := readAll(t, f.b, "a.age")
	data[len(data)/2] ^= 1
	if err := f.b.Put(context.Background(), "a.age", data, blob.CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if r := f.verify(t, "latest", true); r[0].OK {
		t.Fatalf("corrupted: %+v", r[0])
	}
	if record() != nil {
		t.Fatal("a verify that found damage kept the record")
	}
}
