package catalog_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
	"github.com/sluice-dev/sluice/steps/signing"
)

// TestSignatureGate tries what someone who can write the storage would: a
// changed manifest under the genuine signature, a manifest signed by their
// own key, a signature moved from another backup, the signature removed,
// the manifest and signature removed. Each is refused, by ReadManifest and
// by the catalogue, naming the backup; the genuine one passes.
func TestSignatureGate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b blob.Backend) {
		putBackup(t, b, "good.age", day(1))
		putBackup(t, b, "other.age", day(1))
		name := "bad.age"
		putBackup(t, b, name, day(2))
		raw, err := catalog.ReadSmall(ctx, b, manifest.ManifestName(name))
		if err != nil {
			t.Fatal(err)
		}
		genuineSig, _ := catalog.ReadSmall(ctx, b, manifest.SignatureName(name))
		attacker, _ := newTestKey("s-attacker")
		forged := bytes.Replace(raw, []byte(`"plaintext_bytes": 100`), []byte(`"plaintext_bytes": 101`), 1)
		otherSig, _ := catalog.ReadSmall(ctx, b, manifest.SignatureName("other.age"))
		journalSig, _ := signer.Sign(raw, signing.JournalNamespace)
		attackerSig, _ := attacker.Sign(forged, signing.ManifestNamespace)

		for _, c := range []struct {
			name      string
			manifest  []byte
			sig       []byte // nil: removed
			kind      string
			wantInErr string
		}{
			{"changed manifest", forged, genuineSig, catalog.ProblemSignature, "does not verify against the verification keys of the test key (s-test)"},
			{"attacker's key", forged, attackerSig, catalog.ProblemSignature, "is not by the verification keys of the test key"},
			{"another backup's signature", raw, otherSig, catalog.ProblemSignature, "does not verify"},
			{"journal signature", raw, journalSig, catalog.ProblemSignature, "namespace"},
			{"garbage signature", raw, []byte("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"), catalog.ProblemSignature, "not an ssh signature"},
			{"signature removed", forged, nil, catalog.ProblemUnsigned, "not signed: no signature bad.age.manifest.json.sig next to its manifest"},
		} {
			t.Run(c.name, func(t *testing.T) {
				put(t, b, manifest.ManifestName(name), c.manifest)
				b.Remove(ctx, manifest.SignatureName(name))
				if c.sig != nil {
					put(t, b, manifest.SignatureName(name), c.sig)
				}
				_, err := catalog.ReadManifest(ctx, b, name, trust)
				var se *catalog.SignatureError
				if !errors.As(err, &se) || se.Kind != c.kind || !strings.Contains(err.Error(), c.wantInErr) || !strings.Contains(err.Error(), b.URL(name)) {
					t.Fatalf("ReadManifest: %v; want a %s error naming %s and saying %q", err, c.kind, b.URL(name), c.wantInErr)
				}
				cat, err := catalog.Read(ctx, b, trust)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := cat.Find(name); ok || len(cat.Problems) != 1 || cat.Problems[0].Kind != c.kind {
					t.Errorf("catalogue: backups %q, problems %+v; want %s as a %s problem", names(cat.Backups), cat.Problems, name, c.kind)
				}
				if _, ok := cat.Find("good.age"); !ok {
					t.Error("the genuine backup is no longer listed")
				}
			})
		}

		// No manifest at all: unsigned too.
		b.Remove(ctx, manifest.ManifestName(name))
		b.Remove(ctx, manifest.SignatureName(name))
		var se *catalog.SignatureError
		if _, err := catalog.ReadManifest(ctx, b, name, trust); !errors.As(err, &se) || se.Kind != catalog.ProblemUnsigned || !strings.Contains(err.Error(), "it has no manifest") {
			t.Errorf("object without manifest: %v", err)
		}

		// allow unsigned accepts an unsigned manifest with a warning, and
		// never a bad signature.
		var warned []string
		loose := trust
		loose.AllowUnsigned = true
		loose.Warn = func(msg string, args ...any) { warned = append(warned, msg) }
		put(t, b, manifest.ManifestName(name), forged)
		s, err := catalog.ReadManifest(ctx, b, name, loose)
		if err != nil || s.Signature.State != catalog.SignatureUnsigned || len(warned) != 1 || !strings.Contains(warned[0], "UNSIGNED") {
			t.Errorf("allow unsigned: %+v, %v, warnings %q", s, err, warned)
		}
		put(t, b, manifest.SignatureName(name), genuineSig)
		if _, err := catalog.ReadManifest(ctx, b, name, loose); !errors.As(err, &se) || se.Kind != catalog.ProblemSignature {
			t.Errorf("allow unsigned accepted a bad signature: %v", err)
		}
		// Without keys, nothing passes unless unsigned is allowed.
		if _, err := catalog.ReadManifest(ctx, b, "good.age", catalog.Trust{}); err == nil || !strings.Contains(err.Error(), "no verification keys") {
			t.Errorf("zero trust: %v", err)
		}
		g, err := catalog.ReadManifest(ctx, b, "good.age", trust)
		if err != nil || g.Signature.KeyID != "s-test" || g.Manifest.Object != "good.age" {
			t.Errorf("genuine backup: %+v, %v", g, err)
		}
	})
}

// TestSignedManifestRenamed: a genuine manifest and signature copied next
// to another object are refused as renamed: the signature covers the object
// name.
func TestSignedManifestRenamed(t *testing.T) {
	b := blob.NewFile(t.TempDir())
	putBackup(t, b, "a.age", day(1))
	put(t, b, "b.age", []byte("other bytes"))
	raw, _ := catalog.ReadSmall(ctx, b, manifest.ManifestName("a.age"))
	sig, _ := catalog.ReadSmall(ctx, b, manifest.SignatureName("a.age"))
	put(t, b, manifest.ManifestName("b.age"), raw)
	put(t, b, manifest.SignatureName("b.age"), sig)
	_, err := catalog.ReadManifest(ctx, b, "b.age", trust)
	var ue *catalog.UntrustedError
	if !errors.As(err, &ue) || ue.Kind != catalog.ProblemRenamed {
		t.Fatalf("replayed manifest: %v, want renamed", err)
	}
	c, _ := catalog.Read(ctx, b, trust)
	if len(c.Problems) != 1 || c.Problems[0].Kind != catalog.ProblemRenamed {
		t.Errorf("problems %+v", c.Problems)
	}
}
