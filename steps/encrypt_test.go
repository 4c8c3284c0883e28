package steps

import (
	"bytes"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/hashicorp/go-hclog"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
	"golang.org/x/crypto/ssh"
)

func TestEncryptDecryptRoundTrip(t *testing.T) {
	plain := sqlLikeText(1 << 20)
	for _, typ := range []string{keys.TypeHybrid, keys.TypeX25519} {
		t.Run(typ, func(t *testing.T) {
			sc, _, k := newAgeTestStore(t, "backup", typ)
			ct, out, err := xformBytes(&Encrypt{Key: "backup"}, sc, plain)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(ct, []byte("age-encryption.org/v1\n")) || bytes.Contains(ct, plain[:200]) {
				t.Fatal("encrypt output is not an age file hiding its input")
			}
			wantOut := runner.Outputs{"key_ids": []any{k.ID}, "recipients": []any{k.Recipient},
				"bytes_in": int64(len(plain)), "bytes_out": int64(len(ct))}
			if fmt.Sprint(out) != fmt.Sprint(wantOut) {
				t.Errorf("encrypt outputs = %v, want %v", out, wantOut)
			}
			got, dout, err := xformBytes(&Decrypt{Key: "backup"}, sc, ct)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatal("decrypted bytes differ from the plaintext")
			}
			if fmt.Sprint(dout["key_ids"]) != fmt.Sprint([]any{k.ID}) || dout["bytes_in"] != int64(len(ct)) || dout["bytes_out"] != int64(len(plain)) {
				t.Errorf("decrypt outputs = %v", dout)
			}
		})
	}
}

func TestEncryptToListedRecipients(t *testing.T) {
	dir := t.TempDir()
	x, _ := age.GenerateX25519Identity()
	h, _ := age.GenerateHybridIdentity()
	xFile := writeKeyFile(t, dir, "x.txt", x.String())
	hFile := writeKeyFile(t, dir, "h.txt", h.String())
	sshLine, sshFile := newSSHKey(t, dir)
	plain := []byte("SELECT 1;\n")

	cases := []struct {
		name       string
		recipients []string
		identity   string
	}{
		{"x25519 and ssh", []string{x.Recipient().String(), sshLine}, sshFile},
		{"hybrid", []string{h.Recipient().String()}, hFile},
		{"x25519", []string{x.Recipient().String()}, xFile},
	}
	sc := &runner.StepContext{ID: "encrypt"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct, out, err := xformBytes(&Encrypt{Recipients: c.recipients}, sc, plain)
			if err != nil {
				t.Fatal(err)
			}
			if ids := out["key_ids"].([]any); len(ids) != len(c.recipients) {
				t.Errorf("key_ids = %v", ids)
			}
			got, dout, err := xformBytes(&Decrypt{Identities: []string{c.identity}}, sc, ct)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decrypt = %q, %v", got, err)
			}
			_, _, wantID, _ := keys.ParseRecipient(c.recipients[len(c.recipients)-1])
			if !slices.Contains(dout["key_ids"].([]any), any(wantID)) {
				t.Errorf("decrypt key_ids = %v, want %s", dout["key_ids"], wantID)
			}
		})
	}
}

func TestEncryptValidate(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	h, _ := age.GenerateHybridIdentity()
	cases := []struct {
		p    Encrypt
		want string
	}{
		{Encrypt{}, "set exactly one of key"},
		{Encrypt{Key: "a", Recipients: []string{x.Recipient().String()}}, "set exactly one of key"},
		{Encrypt{Recipients: []string{"age1nope"}}, "recipients[0]: parsing X25519 recipient"},
		{Encrypt{Recipients: []string{h.Recipient().String(), x.Recipient().String()}}, "mix post-quantum"},
	}
	for _, c := range cases {
		if err := c.p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.p, err, c.want)
		}
	}
	_, _, err := xformBytes(&Encrypt{Key: "nokey"}, &runner.StepContext{}, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), `key "nokey" is not in the plan's keys: section`) {
		t.Errorf("unknown key: %v", err)
	}
}

// newAgeTestStore initialises a dir key store and a step context whose
// plan names it name.
func newAgeTestStore(t *testing.T, name, typ string) (*runner.StepContext, *keys.Dir, keys.KeyInfo) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	d, k, err := keys.InitDir(path, typ)
	if err != nil {
		t.Fatal(err)
	}
	sc := &runner.StepContext{ID: "crypt", Logger: hclog.NewNullLogger(), Keys: map[string]runner.KeyConfig{
		name: {Name: name, Store: "dir", Path: path},
	}}
	return sc, d, k
}

// xformBytes runs a transform step over in. Like the runner, it gives
// the step a logger.
func xformBytes(tr runner.Transform, sc *runner.StepContext, in []byte) ([]byte, runner.Outputs, error) {
	if sc.Logger == nil {
		withLogger := *sc
		withLogger.Logger = hclog.NewNullLogger()
		sc = &withLogger
	}
	var out bytes.Buffer
	o, err := tr.Transform(context.Background(), sc, bytes.NewReader(in), &out)
	return out.Bytes(), o, err
}

func writeKeyFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newSSHKey writes an ed25519 ssh private key and returns its public line.
func newSSHKey(t *testing.T, dir string) (pubLine, privFile string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	privFile = writeKeyFile(t, dir, "id_ed25519", string(pem.EncodeToMemory(block)))
	sp, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " test@sluice", privFile
}

// sqlLikeText returns n bytes of pg_dump-like SQL, deterministic.
func sqlLikeText(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alice", "bob", "carol", "dave", "pending", "shipped", "refunded", "berlin", "paris", "lisbon"}
	var b bytes.Buffer
	b.WriteString("CREATE TABLE public.orders (id bigint NOT NULL, customer text, status text, city text, amount numeric(12,2), created timestamp with time zone);\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "INSERT INTO public.orders VALUES (%d, '%s', '%s', '%s', %d.%02d, '2024-%02d-%02d %02d:%02d:%02d+00');\n",
			i, words[rng.IntN(4)], words[4+rng.IntN(3)], words[7+rng.IntN(3)], rng.IntN(100000), rng.IntN(100),
			1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
	}
	return b.Bytes()[:n]
}
