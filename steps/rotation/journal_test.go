package rotation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/rotation/rotationtest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// TestRewrapRefusesForgedJournals plants, as someone who can write the
// backup folder would, rewrap journals next to a backup that needs moving:
// one in the old unsigned format whose new header wraps the attacker's own
// file key, one signed by the attacker's key, and one signed by the store
// (as a bug could write) whose new header holds another file key than the
// object's. Each is refused with the journal named, the object's bytes do
// not change, and no new manifest is signed.
func TestRewrapRefusesForgedJournals(t *testing.T) {
	attackerSSH := func() *signing.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		ss, _ := ssh.NewSignerFromKey(priv)
		s, _ := signing.NewSigner("s-attacker", ss)
		return s
	}()
	for _, c := range []struct {
		name  string
		want  string
		plant func(t *testing.T, r *Rewrapper, j *journal, path string)
	}{
		{"unsigned old format", "is not a signed sluice journal", func(t *testing.T, r *Rewrapper, j *journal, path string) {
			data, _ := json.Marshal(j)
			os.WriteFile(path, data, 0o644)
		}},
		{"attacker's signature", "signature check against", func(t *testing.T, r *Rewrapper, j *journal, path string) {
			body, _ := json.Marshal(j)
			sig, _ := attackerSSH.Sign(body, signing.JournalNamespace)
			data, _ := json.Marshal(journalFile{Format: journalFormat, Body: body, Signature: string(sig)})
			os.WriteFile(path, data, 0o644)
		}},
		{"header with another file key", "holds another file key than the object's", func(t *testing.T, r *Rewrapper, j *journal, path string) {
			if err := r.journals.write(context.Background(), j); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := rotationtest.New(t, keys.TypeX25519, 1, 10<<10)
			ctx := context.Background()
			if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
				t.Fatal(err)
			}
			var name string
			for n := range f.Plain {
				name = n
			}
			obj := filepath.Join(f.Dest, name)
			before, _ := os.ReadFile(obj)
			manifestBefore, _ := os.ReadFile(obj + ".manifest.json")
			sigBefore, _ := os.ReadFile(obj + ".manifest.json.sig")
			r, err := New(blob.NewFile(f.Dest), f.Store, Options{})
			if err != nil {
				t.Fatal(err)
			}
			// The attacker's header: a fresh file key wrapped to the store's
			// public recipient (all that encrypting to it needs).
			rs, _, _ := f.Store.Recipients()
			fk := make([]byte, 16)
			rand.Read(fk)
			nh, err := agefile.Wrap(fk, rs...)
			if err != nil {
				t.Fatal(err)
			}
			oldHeader, _, _ := agefile.Parse(bytes.NewReader(before))
			oldLen := headerLen(t, before)
			agefile.Pad(nh, fk, oldLen)
			newHeader, _ := nh.Marshal()
			active, _ := f.Store.Active()
			oh, _ := oldHeader.Marshal()
			j := &journal{Object: name, Apply: applyInPlace, OldHeaderLen: int64(oldLen), OldHeader: oh, NewHeader: newHeader,
				KeyIDs: []string{active.ID}, Recipients: []string{active.Recipient}, Manifest: manifestBefore, ManifestSig: sigBefore,
				NewDigest: "sha256:" + strings.Repeat("0", 64), NewSize: int64(len(before))}
			c.plant(t, r, j, obj+journalSuffix)

			res, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], c.want) {
				t.Fatalf("rewrap result %+v, want the journal refused with %q", res, c.want)
			}
			after, _ := os.ReadFile(obj)
			if !bytes.Equal(after, before) {
				t.Fatal("a forged journal was written over the backup")
			}
			if m, _ := os.ReadFile(obj + ".manifest.json"); !bytes.Equal(m, manifestBefore) {
				t.Error("the manifest changed")
			}
			if s, _ := os.ReadFile(obj + ".manifest.json.sig"); !bytes.Equal(s, sigBefore) {
				t.Error("the signature changed")
			}
			d, _ := age.Decrypt(bytes.NewReader(after), rotationtest.Identity(t, f.Store, f.First.ID))
			if d == nil {
				t.Error("the backup no longer opens with its key")
			}
		})
	}
}

// TestRewrapRefusesSwappedObject: the object was replaced (encrypted to the
// store's public recipient, so its header opens) while its signed manifest
// stayed: the rewrap refuses to move it, and signs nothing.
func TestRewrapRefusesSwappedObject(t *testing.T) {
	f := rotationtest.New(t, keys.TypeX25519, 1, 10<<10)
	if _, err := f.Store.Rotate(keys.RotateOptions{Type: keys.TypeX25519}); err != nil {
		t.Fatal(err)
	}
	var name string
	for n := range f.Plain {
		name = n
	}
	obj := filepath.Join(f.Dest, name)
	st, _ := os.Stat(obj)
	// Encrypt to the retired key's recipient, as the genuine backup is.
	old, _ := age.ParseX25519Recipient(f.First.Recipient)
	var forged bytes.Buffer
	w, _ := age.Encrypt(&forged, old)
	w.Write(bytes.Repeat([]byte("evil"), int(st.Size())/4))
	w.Close()

	os.WriteFile(obj, forged.Bytes(), 0o644)
	sigBefore, _ := os.ReadFile(obj + ".manifest.json.sig")
	for _, mode := range []string{ModeRewrap, ModeReencrypt} {
		r, err := New(blob.NewFile(f.Dest), f.Store, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "signed manifest") {
			t.Fatalf("%s: result %+v, want the swapped object refused", mode, res)
		}
		if got, _ := os.ReadFile(obj); !bytes.Equal(got, forged.Bytes()) {
			t.Errorf("%s: the object was changed", mode)
		}
		if s, _ := os.ReadFile(obj + ".manifest.json.sig"); !bytes.Equal(s, sigBefore) {
			t.Errorf("%s: a new signature was written for the swapped object", mode)
		}
		os.Remove(obj + journalSuffix)
	}
}

// headerLen is the length of the age header at the start of data.
func headerLen(t *testing.T, data []byte) int {
	t.Helper()
	_, n, err := agefile.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
