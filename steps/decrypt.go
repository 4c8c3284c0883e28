package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Decrypt is the parameter struct of the decrypt step: it opens an age
// stream with every identity of a key store (active and retired) or with
// listed identity files. Its output is plaintext.
type Decrypt struct {
	Key            runner.KeyName `yaml:"key" doc:"the plan's keys: entry whose identities (active and retired) may open the stream (one of key or identities)"`
	Identities     []string       `yaml:"identities" doc:"identity files: age identity files or unencrypted ssh private keys, each with mode 0600 (one of key or identities)"`
	ExpectedKeyIDs []string       `yaml:"expected_key_ids" doc:"key ids the backup was encrypted to, e.g. from its manifest; only used to name the missing key when none of ours opens it"`
}

var (
	_ runner.Transform = (*Decrypt)(nil)
	_ runner.Validator = (*Decrypt)(nil)
)

func decryptDefinition() runner.Definition {
	return runner.Definition{
		Type:    "decrypt",
		Kind:    runner.KindTransform,
		Summary: "Decrypt an age stream with a key store's identities or listed identity files",
		New:     func() any { return &Decrypt{} },
		Outputs: []runner.OutputSpec{
			{Name: "key_ids", Type: "list", Doc: "ids of the keys that opened the stream"},
			{Name: "bytes_in", Type: "int", Doc: "encrypted bytes read"},
			{Name: "bytes_out", Type: "int", Doc: "plaintext bytes written"},
		},
		Plaintext: true,
	}
}

// Validate checks that exactly one of key and identities is set.
func (p *Decrypt) Validate() error {
	if (p.Key == "") == (len(p.Identities) == 0) {
		return errors.New("set exactly one of key (a keys: entry) and identities (identity files)")
	}
	return nil
}

// headerPrefix is how much of the input decrypt keeps to explain a key
// mismatch: a post-quantum stanza is about 1.5 KiB of header text.
const headerPrefix = 64 << 10

// Transform decrypts r to w.
func (p *Decrypt) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ids, tried, err := p.identities(sc)
	if err != nil {
		return nil, err
	}
	matchers := make([]*matchingIdentity, len(ids))
	wrapped := make([]age.Identity, len(ids))
	for i, id := range ids {
		matchers[i] = &matchingIdentity{id: id}
		wrapped[i] = matchers[i]
	}

	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	head := &prefixRecorder{r: in, max: headerPrefix}
	ar, err := age.Decrypt(head, wrapped...)
	if err != nil {
		return nil, streamio.Explain(err, in, out, func(err error) error {
			var noMatch *age.NoIdentityMatchError
			switch {
			case in.N() == 0:
				return errors.New("input is empty: the upstream step produced no bytes")
			case errors.As(err, &noMatch):
				return p.noMatchError(head.buf.Bytes(), tried)
			default:
				return fmt.Errorf("backup is truncated or corrupted: %w", err)
			}
		})
	}
	var opened []string
	for i, m := range matchers {
		if m.matched {
			opened = append(opened, tried[i].ID)
		}
	}
	if sc.Logger != nil {
		sc.Logger.Debug("decrypting", "key_ids", opened)
	}
	if _, err := io.Copy(out, ar); err != nil {
		return nil, streamio.Explain(err, in, out, func(err error) error {
			return fmt.Errorf("backup is truncated or corrupted: %w", err)
		})
	}
	return runner.Outputs{
		"key_ids":   ageList(opened),
		"bytes_in":  in.N(),
		"bytes_out": out.N(),
	}, nil
}

// identities loads the identities to try, with their infos.
func (p *Decrypt) identities(sc *runner.StepContext) ([]age.Identity, []keys.KeyInfo, error) {
	if p.Key != "" {
		if err := p.missingStore(sc); err != nil {
			return nil, nil, err
		}
		store, err := openStepKeyStore(sc, p.Key)
		if err != nil {
			return nil, nil, err
		}
		ids, infos, err := store.Identities()
		if err != nil {
			return nil, nil, fmt.Errorf("key store %q: %w", p.Key, err)
		}
		return ids, infos, nil
	}
	var ids []age.Identity
	var infos []keys.KeyInfo
	for _, path := range p.Identities {
		got, gotInfos, err := keys.ReadIdentityFile(path)
		if err != nil {
			return nil, nil, err
		}
		ids, infos = append(ids, got...), append(infos, gotInfos...)
	}
	return ids, infos, nil
}

// noMatchError explains which keys the backup needs and which were tried.
// When a tried key is one the backup was encrypted to (per
// expected_key_ids), the key is right and the header is damaged.
func (p *Decrypt) noMatchError(header []byte, tried []keys.KeyInfo) error {
	for _, k := range tried {
		if slices.Contains(p.ExpectedKeyIDs, k.ID) {
			return fmt.Errorf("backup is truncated or corrupted: its header does not open with key %s, which it was encrypted to: the file was damaged or modified", k.ID)
		}
	}
	var b strings.Builder
	b.WriteString("no key opens this backup")
	if h, _, err := agefile.Parse(bytes.NewReader(header)); err == nil {
		fmt.Fprintf(&b, ": it is encrypted to %s", h.Describe())
		if slices.ContainsFunc(h.Stanzas, func(s *age.Stanza) bool { return s.Type == "scrypt" }) {
			b.WriteString(", with a passphrase, which sluice does not use")
		}
	}
	var names []string
	for _, k := range tried {
		n := k.ID
		if k.State != "" {
			n += " (" + k.State + ")"
		}
		names = append(names, n)
	}
	source := "identity files"
	if p.Key != "" {
		source = fmt.Sprintf("key store %q", p.Key)
	}
	fmt.Fprintf(&b, "; tried %s of %s", strings.Join(names, ", "), source)
	if len(p.ExpectedKeyIDs) > 0 {
		fmt.Fprintf(&b, "; it needs %s: use the key store that holds it", strings.Join(p.ExpectedKeyIDs, " or "))
	} else {
		b.WriteString(": check the key_ids in the backup's manifest and use the key store that holds them")
	}
	return &NoKeyError{msg: b.String()}
}

// matchingIdentity records whether its identity unwrapped the file key.
type matchingIdentity struct {
	id      age.Identity
	matched bool
}

func (m *matchingIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	key, err := m.id.Unwrap(stanzas)
	if err == nil {
		m.matched = true
	}
	return key, err
}

// prefixRecorder keeps the first max bytes read through it: the public age
// header, to explain a key mismatch.
type prefixRecorder struct {
	r   io.Reader
	max int
	buf bytes.Buffer
}

func (p *prefixRecorder) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if room := p.max - p.buf.Len(); room > 0 {
		p.buf.Write(b[:min(n, room)])
	}
	return n, err
}
