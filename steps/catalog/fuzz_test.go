package catalog_test

import (
	"bytes"
	"testing"

	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/signing"
)

// FuzzManifestGate feeds arbitrary manifest and signature bytes to the
// signature gate: it must never panic, and it may accept only a manifest
// whose exact bytes the trusted key signed (the seeds), never anything the
// fuzzer made up, nor a signature in another namespace.
func FuzzManifestGate(f *testing.F) {
	signed := map[string]bool{}
	seed := func(m []byte) {
		sig, err := signer.Sign(m, signing.ManifestNamespace)
		if err != nil {
			f.Fatal(err)
		}
		signed[string(m)] = true
		f.Add(m, sig)
		f.Add(append(bytes.Clone(m), ' '), sig)
		other, _ := signer.Sign(m, signing.JournalNamespace)
		f.Add(m, other)
		f.Add(m, sig[:len(sig)/2])
	}
	seed(must(manifestFor(nil, "a.age")))
	seed([]byte(`{"format_version": 1, "object": "a.age", "digest": {"algorithm": "sha256", "hex": "00"}}`))
	seed([]byte("{not json"))
	f.Add([]byte(`{}`), []byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, data, sig []byte) {
		s, err := trust.CheckSignature("file:///x/a.age", "a.age", data, sig, true)
		if err != nil {
			return
		}
		if !signed[string(data)] {
			t.Fatalf("the gate accepted bytes the key never signed: %q", data)
		}
		if s.Signature.State != catalog.SignatureValid || s.Signature.KeyID != "s-test" || s.Manifest == nil || s.Manifest.Object != "a.age" || !bytes.Equal(s.Raw, data) {
			t.Fatalf("accepted with %+v", s)
		}
	})
}
