package steps

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/agefile"
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
	_, err := agefile.ParseRecipients(p.Recipients)
	return err
}

// recipients returns the listed recipients or the key store's.
func (p *Encrypt) recipients(sc *runner.StepContext) (*agefile.Recipients, error) {
	if len(p.Recipients) > 0 {
		return agefile.ParseRecipients(p.Recipients)
	}
	cfg, err := keys.Entry(sc.Keys, string(p.Key))
	if err != nil {
		return nil, err
	}
	return agefile.StoreRecipients(cfg)
}

// Transform encrypts r to w.
func (p *Encrypt) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	rs, err := p.recipients(sc)
	if err != nil {
		return nil, err
	}
	sc.Logger.Debug("encrypting", "key_ids", rs.KeyIDs)
	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	aw, err := agefile.Seal(out, rs)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(aw, in); err != nil {
		return nil, encryptStreamErr(err, in, out)
	}
	if err := aw.Close(); err != nil {
		return nil, encryptStreamErr(err, in, out)
	}
	return runner.Outputs{
		"key_ids":    runner.List(rs.KeyIDs),
		"recipients": runner.List(rs.Public),
		"bytes_in":   in.N(),
		"bytes_out":  out.N(),
	}, nil
}

func encryptStreamErr(err error, in *streamio.Reader, out *streamio.Writer) error {
	return streamio.Explain(err, in, out, func(err error) error {
		return fmt.Errorf("encrypting: %w", err)
	})
}
