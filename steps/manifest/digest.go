package manifest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"path"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// Digest algorithms sluice computes.
const (
	SHA256 = "sha256"
	SHA512 = "sha512"
)

// Algorithms lists the supported digest algorithms, the default first.
var Algorithms = []string{SHA256, SHA512}

// checksumType is the step type whose outputs are a digest of its stream.
const checksumType = "checksum"

// Digest is a digest of an object's bytes.
type Digest struct {
	Algorithm string `json:"algorithm"`
	Hex       string `json:"hex"`
	// Bytes is how many bytes were digested; 0 when unknown.
	Bytes int64 `json:"-"`
}

// String renders the digest as "algorithm:hex".
func (d Digest) String() string { return d.Algorithm + ":" + d.Hex }

// Validate checks the algorithm and the length of the hex string.
func (d Digest) Validate() error {
	h, err := NewHash(d.Algorithm)
	if err != nil {
		return err
	}
	raw, err := hex.DecodeString(d.Hex)
	if err != nil || len(raw) != h.Size() {
		return fmt.Errorf("%s digest %q is not %d hexadecimal bytes", d.Algorithm, d.Hex, h.Size())
	}
	return nil
}

// NewHash returns a fresh hash for a supported algorithm.
func NewHash(algorithm string) (hash.Hash, error) {
	switch algorithm {
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("digest algorithm %q is not supported: use %s", algorithm, strings.Join(Algorithms, " or "))
}

// DigestOf returns the digest of the bytes that reach the end of upstream:
// that of the checksum stage nearest the end, provided only checksum stages
// (which pass bytes through unchanged) follow it.
func DigestOf(upstream []runner.Stage) (Digest, bool) {
	for i := len(upstream) - 1; i >= 0 && upstream[i].Type == checksumType; i-- {
		out := upstream[i].Outputs
		alg, _ := out["algorithm"].(string)
		hx, _ := out["digest"].(string)
		if alg == "" || hx == "" {
			continue
		}
		n, _ := toInt64(out["bytes"])
		return Digest{Algorithm: alg, Hex: hx, Bytes: n}, true
	}
	return Digest{}, false
}

// SidecarName returns the name of an object's checksum sidecar, e.g.
// "app.dump.age.sha256".
func SidecarName(object, algorithm string) string { return object + "." + algorithm }

// StaleSidecars returns the names of object's checksum sidecars but the one
// of algorithm keep ("" keeps none): those an overwrite of object removes,
// as they would describe the older bytes.
func StaleSidecars(object, keep string) []string {
	var names []string
	for _, alg := range Algorithms {
		if alg != keep {
			names = append(names, SidecarName(object, alg))
		}
	}
	return names
}

// Sidecar renders a sidecar in the format of sha256sum and sha512sum, so that
// `sha256sum -c NAME.sha256` passes in the object's folder.
func Sidecar(d Digest, object string) []byte {
	return []byte(d.Hex + "  " + path.Base(object) + "\n")
}

// ParseSidecar reads a sidecar written for object with the given algorithm
// and returns the digest it records.
func ParseSidecar(data []byte, algorithm, object string) (Digest, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	hx, file, ok := strings.Cut(string(line), " ")
	file = strings.TrimPrefix(file, " ")
	file = strings.TrimPrefix(file, "*") // binary mode marker
	if !ok || file != path.Base(object) {
		return Digest{}, fmt.Errorf("checksum sidecar does not describe %s: want a line \"<hex>  %s\"", path.Base(object), path.Base(object))
	}
	d := Digest{Algorithm: algorithm, Hex: strings.ToLower(hx)}
	if err := d.Validate(); err != nil {
		return Digest{}, fmt.Errorf("checksum sidecar: %w", err)
	}
	return d, nil
}
