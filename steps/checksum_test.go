package steps

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
)

func TestChecksumDigests(t *testing.T) {
	data := randomData(t, 1<<20+1)
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	for with, want := range map[string]string{
		"":                    hex.EncodeToString(s256[:]),
		"{algorithm: sha256}": hex.EncodeToString(s256[:]),
		"{algorithm: sha512}": hex.EncodeToString(s512[:]),
	} {
		alg := with
		c := params[Checksum](t, "checksum", with)
		var out bytes.Buffer
		o, err := c.Transform(context.Background(), testStepContext("sum"), bytes.NewReader(data), &out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%s: stream changed while passing through", alg)
		}
		if o["digest"] != want || o["bytes"] != int64(len(data)) {
			t.Fatalf("%s: outputs = %v, want digest %s", alg, o, want)
		}
	}
	// The digest of nothing is still a digest.
	o, err := params[Checksum](t, "checksum", "").Transform(context.Background(), nil, strings.NewReader(""), &bytes.Buffer{})
	if err != nil || o["digest"] != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || o["algorithm"] != "sha256" {
		t.Fatalf("empty stream: %v, %v", o, err)
	}
}
