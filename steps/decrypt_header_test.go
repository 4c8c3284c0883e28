package steps

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/steps/keys"
)

// TestDecryptDamagedStanza flips a byte inside the recipient stanza: the
// right key no longer unwraps the file key. With the backup's key ids known,
// the error must call the file damaged instead of asking for another key.
func TestDecryptDamagedStanza(t *testing.T) {
	for _, typ := range []string{keys.TypeHybrid, keys.TypeX25519} {
		t.Run(typ, func(t *testing.T) {
			sc, _, k := newAgeTestStore(t, "backup", typ)
			ct, _, err := xformBytes(&Encrypt{Key: "backup"}, sc, []byte("rows"))
			if err != nil {
				t.Fatal(err)
			}
			// The stanza body is the second line of the header.
			body := bytes.IndexByte(ct[bytes.IndexByte(ct, '\n')+1:], '\n') + bytes.IndexByte(ct, '\n') + 2
			// Swap in another base64 letter, so the header still parses (a
			// flipped bit can make an invalid character, which is another
			// error path, tested elsewhere).
			if ct[body+5] == 'A' {
				ct[body+5] = 'B'
			} else {
				ct[body+5] = 'A'
			}

			_, _, err = xformBytes(&Decrypt{Key: "backup", ExpectedKeyIDs: []string{k.ID}}, sc, ct)
			if err == nil || !strings.HasPrefix(err.Error(), "backup is truncated or corrupted: ") || !strings.Contains(err.Error(), k.ID) {
				t.Fatalf("err = %v, want the backup reported damaged, naming %s", err, k.ID)
			}
			// Without the key ids, decrypt cannot tell a damaged stanza from a
			// foreign key and still lists what it tried.
			_, _, err = xformBytes(&Decrypt{Key: "backup"}, sc, ct)
			if err == nil || !strings.Contains(err.Error(), "no key opens this backup") {
				t.Fatalf("without expected_key_ids: err = %v", err)
			}
		})
	}
}
