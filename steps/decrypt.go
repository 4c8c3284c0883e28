package steps

import (
	"context"
	"errors"
	"io"

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

// Transform decrypts r to w.
func (p *Decrypt) Transform(ctx context.Context, sc *runner.StepContext, r io.Reader, w io.Writer) (runner.Outputs, error) {
	ids, err := p.identities(sc.Keys)
	if err != nil {
		return nil, err
	}
	in, out := streamio.NewReader(ctx, r), streamio.NewWriter(w)
	ar, err := agefile.Open(in, ids, p.ExpectedKeyIDs)
	if err == nil {
		sc.Logger.Debug("decrypting", "key_ids", ar.KeyIDs())
		_, err = io.Copy(out, ar)
	}
	if err != nil {
		return nil, streamio.Explain(err, in, out, func(err error) error { return err })
	}
	return runner.Outputs{
		"key_ids":   runner.List(ar.KeyIDs()),
		"bytes_in":  in.N(),
		"bytes_out": out.N(),
	}, nil
}

// identities loads the identities to try from the plan's keys: entries.
func (p *Decrypt) identities(entries map[string]runner.KeyConfig) (*agefile.Identities, error) {
	if p.Key == "" {
		return agefile.FileIdentities(p.Identities)
	}
	cfg, err := keys.Entry(entries, string(p.Key))
	if err != nil {
		return nil, err
	}
	return agefile.StoreIdentities(cfg, p.ExpectedKeyIDs)
}
