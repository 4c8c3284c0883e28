package signing

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// AllowedSigners renders keys as an OpenSSH allowed_signers file (see
// ssh-keygen(1), ALLOWED SIGNERS) for ssh-keygen -Y verify -I Principal:
// one line per key, limited to ManifestNamespace, with the key id as the
// comment.
func AllowedSigners(keys []Key) []byte {
	var b bytes.Buffer
	b.WriteString("# sluice verification keys: ssh-keygen -Y verify -f THIS -I " + Principal + " -n " + ManifestNamespace + " -s NAME.manifest.json.sig < NAME.manifest.json\n")
	for _, k := range keys {
		line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k.Public)), "\n")
		fmt.Fprintf(&b, "%s namespaces=%q %s %s\n", Principal, ManifestNamespace, line, k.ID)
	}
	return b.Bytes()
}

// ParseAllowedSigners reads the Ed25519 keys of an allowed_signers file
// whose principals include Principal (or "*") and whose namespaces, when
// restricted, include ManifestNamespace. A key's id is its line's comment,
// or its fingerprint when there is none.
func ParseAllowedSigners(data []byte) ([]Key, error) {
	var out []Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		principals, rest, _ := strings.Cut(line, " ")
		pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			return nil, fmt.Errorf("allowed signers line %d: %w", n, err)
		}
		if pub.Type() != KeyType {
			return nil, fmt.Errorf("allowed signers line %d: %s key: sluice trusts %s keys only", n, pub.Type(), KeyType)
		}
		names := strings.Split(principals, ",")
		if !slices.Contains(names, Principal) && !slices.Contains(names, "*") {
			continue
		}
		if !namespaceAllowed(options) {
			continue
		}
		id := strings.TrimSpace(comment)
		if id == "" {
			id = ssh.FingerprintSHA256(pub)
		}
		out = append(out, Key{ID: id, Public: pub})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading allowed signers: %w", err)
	}
	return out, nil
}

// namespaceAllowed tells whether an allowed_signers line's options admit
// ManifestNamespace.
func namespaceAllowed(options []string) bool {
	for _, o := range options {
		v, ok := strings.CutPrefix(o, "namespaces=")
		if !ok {
			continue
		}
		return slices.Contains(strings.Split(strings.Trim(v, `"`), ","), ManifestNamespace)
	}
	return true
}
