package steps

import (
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/internal/streamio"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Encrypt is the parameter struct of the encrypt step: it encrypts its input
// stream with age to the active key of a key store or to listed recipients.
// The output is a standard age file: `age -d -i KEYFILE` opens it.
type Encrypt struct {
	Key        runner.KeyName `yaml:"key" doc:"the plan's keys: entry whose active key to encrypt to (one of key or recipients)"`
	Recipients []string       `yaml:"recipients" doc:"public recipients to encrypt to: X25519 (age1...), post-quantum hybrid (age1pq1...) or ssh (ssh-ed25519 / ssh-rsa) (one of key or recipients)"`
}

var (
	_ runner.Transform = (*Encrypt)(nil)
	_ runner.Validator = (*Encrypt)(nil)
)

func encryptDefinition() runner.Definition {
	return runner.Definition{
		Type:    "encrypt",
		Kind:    runner.KindTransform,
		Summary: "Encrypt the stream with age to a key store's active key or to listed recipients",
		New:     func() any { return &Encrypt{} },
		Outputs: []runner.OutputSpec{
			{Name: "key_ids", Type: "list", Doc: "ids of the keys the stream is encrypted to"},
			{Name: "recipients", Type: "list", Doc: "the public recipients the stream is encrypted to"},
			{Name: "bytes_in", Type: "int", Doc: "plaintext bytes read"},
			{Name: "bytes_out", Type: "int", Doc: "encrypted bytes written"},
		},
		Protects:       true,
		PublicKeysOnly: true,
	}
}

// Validate checks that exactly one of key and recipients is set and that
// every recipient parses; post-quantum and classic recipients cannot be
// mixed (age refuses: the file would be open to quantum attacks).
func (p *Encrypt) Validate() error {
	if (p.Key == "") == (len(p.Recipients) == 0) {
		return errors.New("set exactly one of key (a keys: entry) and recipients (public keys)")
	}
	_, _, _, err := parseEncryptRecipients(p.Recipients)
	return err
}

// parseEncryptRecipients parses listed recipients and returns them with
// their canonical strings and key ids.
func parseEncryptRecipients(list []string) (rs []age.Recipient, canon, ids []string, err error) {
	pq := 0
	for i, s := range list {
		r, c, id, err := keys.ParseRecipient(s)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("recipients[%d]: %w", i, err)
		}
		if keys.IsPostQuantum(c) {
			pq++
		}
		rs, canon, ids = append(rs, r), append(canon, c), append(ids, id)
	}
	if pq > 0 && pq < len(list) {
		return nil, nil, nil, errors.New("recipients mix post-quantum (age1pq1...) and classic keys; age refuses because the file would be open to quantum attacks: use only one kind")
	}
	return rs, canon, ids, nil
}

// resolve returns the recipients to encrypt to, their public strings and
// key ids.
func (p *Encrypt) resolve(sc *runner.StepContext) ([]age.Recipient, []string, []string, error) {
	if len(p.Recipients) > 0 {
		return parseEncryptRecipients(p.Recipients)
	}
	store, err := openStepKeyStore(sc, p.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	rs, infos, err := store.Recipients()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("key store %q: %w", p.Key, err)
	}
	var canon, ids []string
	for _, k := range infos {
		canon, ids = append(canon, k.Recipient), append(ids, k.ID)
	}
	return rs, canon, ids, nil
}

// openStepKeyStore opens the plan's keys: entry name.
func openStepKeyStore(sc *runner.StepContext, name runner.KeyName) (keys.Store, error) {
	cfg, ok := sc.Keys[string(name)]
	if !ok {
		return nil, fmt.Errorf("key %q is not in the plan's keys: section", name)
	}
	if cfg.Name == "" {
		cfg.Name = string(name)
	}
	return keys.Open(cfg)
}

// Transform encrypts r to w.
func (p *Encrypt) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rs, canon, ids, err := p.resolve(sc)
	if err != nil {
		return nil, err
	}
	if sc.Logger != nil {
		sc.Logger.Debug("encrypting", "key_ids", ids)
	}
	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	aw, err := age.Encrypt(out, rs...)
	if err != nil {
		return nil, fmt.Errorf("starting encryption: %w", err)
	}
	if _, err := io.Copy(aw, in); err != nil {
		return nil, encryptStreamErr(err, in, out)
	}
	if err := aw.Close(); err != nil {
		return nil, encryptStreamErr(err, in, out)
	}
	return runner.Outputs{
		"key_ids":    ageList(ids),
		"recipients": ageList(canon),
		"bytes_in":   in.N(),
		"bytes_out":  out.N(),
	}, nil
}

func encryptStreamErr(err error, in *streamio.Reader, out *streamio.Writer) error {
	return streamio.Explain(err, in, out, func(err error) error {
		return fmt.Errorf("encrypting: %w", err)
	})
}

// ageList converts to the []any that outputs use for lists.
func ageList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
