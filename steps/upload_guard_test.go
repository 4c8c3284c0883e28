package steps

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sluice-dev/sluice/runner"
)

// fakeSeal claims to protect its stream (Protects) but copies it unchanged:
// a plan shape the fail-closed lint accepts.
type fakeSeal struct{}

func (fakeSeal) Transform(_ context.Context, _ *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	_, err := io.Copy(w, r)
	return nil, err
}

// TestUploadRefusesPlaintextAtRunTime runs download -> a step that only
// claims to encrypt -> upload: the plan is valid, but the upload finds no
// age header, fails, and leaves nothing in the destination. With
// allow_plaintext the same stream is stored.
func TestUploadRefusesPlaintextAtRunTime(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "plain.sql")
	if err := os.WriteFile(in, []byte("COPY public.customers (id, name) FROM stdin;\n1\tAda\n\\.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := runner.NewRegistry(downloadDefinition(), uploadDefinition(),
		runner.Definition{Type: "fake-seal", Kind: runner.KindTransform, Protects: true, New: func() any { return &fakeSeal{} }})
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_plaintext=%v", allow), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out-%v", allow))
			plan := fmt.Sprintf(`version: 1
steps:
  read: {type: download, with: {from: %q, allow_unsigned: true}}
  seal: {type: fake-seal, input: read}
  write: {type: upload, input: seal, with: {to: %q, allow_plaintext: %v, unsigned: true}}
`, in, out+"/plain.sql.age", allow)
			p, err := runner.Load("copy.yaml", []byte(plan), reg)
			if err != nil {
				t.Fatalf("the lint should accept this shape: %v", err)
			}
			_, err = runner.Run(context.Background(), p, runner.RunOptions{StateDir: filepath.Join(dir, ".sluice")})
			entries, _ := os.ReadDir(out)
			if allow {
				if err != nil || len(entries) != 2 {
					t.Fatalf("with allow_plaintext: run %v, %d files", err, len(entries))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "refusing to store a stream that is not age-encrypted") {
				t.Fatalf("run = %v, want the age header refusal", err)
			}
			if len(entries) != 0 {
				t.Errorf("the refused upload left %d files in %s", len(entries), out)
			}
		})
	}
}

// TestRequireAge: a real age file passes; the magic line followed by a
// dump (what a step that only pretends to encrypt would write) does not.
func TestRequireAge(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	w, err := age.Encrypt(&sealed, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "COPY public.customers")
	w.Close()
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{sealed.String(), true},
		{ageMagic + "COPY public.customers (id, card) FROM stdin;\n", false},
		{ageMagic + "-> X25519 abc\n", false},
		{ageMagic, false},
		{"age-encryption.org/v1", false},
		{"age-encryption.org/v2\n", false},
		{"-----BEGIN AGE ENCRYPTED FILE-----\n", false},
		{"PGDMP", false},
		{"", false},
	} {
		r, err := requireAge(strings.NewReader(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("requireAge(%q) = %v", tt.in, err)
			continue
		}
		if err == nil {
			if b, _ := io.ReadAll(r); string(b) != tt.in {
				t.Errorf("requireAge(%q) changed the stream to %q", tt.in, b)
			}
		}
	}
}
