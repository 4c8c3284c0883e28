package rotation

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// addPartsBackup stores a backup in parts (as upload does: parts with
// sidecars, signed manifest last) encrypted to the store's active key and
// returns its parts' names and plaintexts.
func addPartsBackup(t *testing.T, f *rotationtest.Fixture, name string, n int) map[string][]byte {
	t.Helper()
	rs, act, err := f.Store.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := f.Store.Signer()
	if err != nil {
		t.Fatal(err)
	}
	b := blob.NewFile(f.Dest)
	ctx := context.Background()
	plains := map[string][]byte{}
	var parts []manifest.Part
	for i := range n {
		plain := make([]byte, 20<<10*(i+1))
		rand.Read(plain)
		var ct bytes.Buffer
		w, _ := age.Encrypt(&ct, rs...)
		w.Write(plain)
		w.Close()
		sum := sha256.Sum256(ct.Bytes())
		d := manifest.Digest{Algorithm: manifest.SHA256, Hex: hex.EncodeToString(sum[:])}
		pn := manifest.PartName(filepath.Base(name), fmt.Sprintf("%02d-data", i))
		full := catalog.PartPath(name, pn)
		plains[full] = plain
		for obj, body := range map[string][]byte{full: ct.Bytes(), manifest.SidecarName(full, manifest.SHA256): manifest.Sidecar(d, pn)} {
			if err := b.Put(ctx, obj, body, blob.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		parts = append(parts, manifest.Part{Name: pn, Section: "data", RestorePhase: 1, StoredBytes: int64(ct.Len()), PlaintextBytes: int64(len(plain)), Digest: &d})
	}
	m := manifest.Build(manifest.Input{Plan: "backup", RunID: "r2", Object: filepath.Base(name), Parts: parts,
		Upstream: []runner.Stage{{ID: "dump", Type: "dump", Outputs: runner.Outputs{"format": "custom"}}, {ID: "encrypt", Type: "encrypt", Outputs: runner.Outputs{"key_ids": []any{act[0].ID}, "recipients": []any{act[0].Recipient}}}}})
	data, _ := m.Marshal()
	sig, err := signer.Sign(data, signing.ManifestNamespace)
	if err != nil {
		t.Fatal(err)
	}
	for obj, body := range map[string][]byte{manifest.SignatureName(name): sig, manifest.ManifestName(name): data} {
		if err := b.Put(ctx, obj, body, blob.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return plains
}

// checkParts asserts the backup in parts is on the active key and whole:
// its signed manifest names the key, every part passes a content verify
// with the store (digests, sidecars, age tags), the retired key opens no
// part and the payload behind each header is unchanged.
func checkParts(t *testing.T, f *rotationtest.Fixture, name string, plains map[string][]byte, payloads map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	b := blob.NewFile(f.Dest)
	active, _ := f.Store.Active()
	v, _ := f.Store.Verifier()
	trust := catalog.Trust{Verifier: v}
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		t.Fatal(err)
	}
	bk, ok := c.Find(name)
	if !ok || !slices.Equal(bk.KeyIDs, []string{active.ID}) {
		t.Fatalf("backup %s: found %v, key ids %v (want %s); problems %v", name, ok, bk, active.ID, c.Problems)
	}
	res := catalog.VerifyBackup(ctx, b, bk, catalog.VerifyOptions{Trust: trust, Keys: catalog.DirKeys(f.KeyDir)})
	if !res.OK || res.Level != catalog.LevelContent || !slices.Equal(res.KeyIDs, []string{active.ID}) {
		t.Fatalf("verify after the move: %+v", res)
	}
	for part, plain := range plains {
		path := filepath.Join(f.Dest, part)
		if !bytes.Equal(rotationtest.Payload(t, path), payloads[part]) {
			t.Errorf("%s: payload changed by a rewrap", part)
		}
		if opensWith(ctx, b, part, r0(t, f)) == nil {
			t.Errorf("%s: the retired key still opens it", part)
		}
		got, err := decrypt(path, rotationtest.Identity(t, f.Store, active.ID))
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: the active key does not open it to its plaintext: %v", part, err)
		}
	}
}

func r0(t *testing.T, f *rotationtest.Fixture) []age.Identity {
	return []age.Identity{rotationtest.Identity(t, f.Store, f.First.ID)}
}

func decrypt(path string, id age.Identity) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = out.ReadFrom(r)
	return out.Bytes(), err
}

// TestRewrapParts moves a backup in parts (and a backup of one object
// beside it) onto the new key, in place and by copy, and once with a
// crash after the first part: the rerun finishes it.
func TestRewrapParts(t *testing.T) {
	for _, c := range []struct {
		name     string
		from, to string
		crash    bool
	}{
		{"in place", keys.TypeX25519, keys.TypeX25519, false},
		{"copied", keys.TypeX25519, keys.TypeHybrid, false},
		{"crash after a part", keys.TypeX25519, keys.TypeX25519, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.to == keys.TypeHybrid {
				rotationtest.AgeCLI(t, c.to) // the hybrid key needs the tools of age 1.3 in this suite
			}
			f := rotationtest.New(t, c.from, 1, 10<<10)
			const name = "daily/app-r2.dump.zst.age"
			plains := addPartsBackup(t, f, name, 3)
			payloads := map[string][]byte{}
			for part := range plains {
				payloads[part] = rotationtest.Payload(t, filepath.Join(f.Dest, part))
			}
			if _, err := f.Store.Rotate(keys.RotateOptions{Type: c.to, Reason: "test"}); err != nil {
				t.Fatal(err)
			}
			r, err := New(blob.NewFile(f.Dest), f.Store, Options{Verify: VerifyFull})
			if err != nil {
				t.Fatal(err)
			}
			if c.crash {
				parts := 0
				r.hook = func(p string) error {
					if p == "part" {
						if parts++; parts == 1 {
							return errors.New("crash")
						}
					}
					return nil
				}
				res, err := r.Run(context.Background())
				if err != nil || len(res.Failed) != 1 {
					t.Fatalf("crashed run: %+v, %v", res, err)
				}
				r.hook = nil
			}
			res, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if c.crash {
				want = 1 // the other backup moved in the crashed run
			}
			if len(res.Rewrapped) != want || len(res.Failed) != 0 || len(res.StillOnRetired) != 0 {
				t.Fatalf("result %+v", res)
			}
			if !c.crash && (res.InPlace == 2) != (c.from == c.to) {
				t.Errorf("in place %d, copied %d", res.InPlace, res.Copied)
			}
			checkParts(t, f, name, plains, payloads)
		})
	}
}

// TestReencryptPartsRefused: re-encryption does not move a backup in
// parts; it says so and leaves the backup as it was.
func TestReencryptPartsRefused(t *testing.T) {
	f := rotationtest.New(t, keys.TypeX25519, 0, 0)
	addPartsBackup(t, f, "app.dump.zst.age", 2)
	if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	r, err := New(blob.NewFile(f.Dest), f.Store, Options{Mode: ModeReencrypt})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err != nil || len(res.Failed) != 1 || !bytes.Contains([]byte(res.Failed[0]), []byte("mode reencrypt does not move a backup in parts")) || len(res.StillOnRetired) != 1 {
		t.Fatalf("result %+v, %v", res, err)
	}
}
