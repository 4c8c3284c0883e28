package main

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps"
	"github.com/sluice-dev/sluice/steps/agefile"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// restoreSpec is the inverse pipeline of one backup as typed values: what
// its manifest says the backup is, and what the command line asks for.
// Values from the manifest are checked against closed sets here and are
// never evaluated as expressions.
type restoreSpec struct {
	object string   // URL of the object, or of a backup in parts (from the command line)
	keyIDs []string // recorded by the encrypt stage; decrypt only names them in errors
	undo   []undoStep
	format string // custom or plain

	// parts counts the objects of a backup in parts (0 for one object);
	// jobs is how many of them restore at once.
	parts, jobs int

	keyDir        string
	identities    []string
	create, clean bool
	// signers is the key store whose verification keys the download checks
	// the manifest's signature with again; allowUnsigned accepts none.
	signers       string
	allowUnsigned bool
}

// undoStep is one stage to undo, last stage first.
type undoStep struct {
	typ       string // decrypt or decompress
	algorithm string // decompress: zstd or gzip
}

// storeKey names the key store in a derived plan, signersKey the one that
// checks signatures.
const (
	storeKey   = "store"
	signersKey = "signers"
)

// deriveRestore reads what restore needs from a manifest. objectURL is the
// object beside the manifest.
func deriveRestore(m *manifest.Manifest, objectURL string) (*restoreSpec, error) {
	if m.Source == nil || m.Source.Type != "dump" {
		return nil, fmt.Errorf("manifest of %s: not a database backup (its source is not a dump step)", objectURL)
	}
	s := &restoreSpec{object: objectURL, keyIDs: catalog.KeyIDs(m), parts: len(m.Parts)}
	switch m.Source.Format {
	case "custom", "plain":
		s.format = m.Source.Format
	case "":
		return nil, fmt.Errorf("manifest of %s: the dump stage records no format (custom or plain), so restore cannot tell which tool to use", objectURL)
	default:
		return nil, fmt.Errorf("manifest of %s: dump format %q is not custom or plain", objectURL, m.Source.Format)
	}
	for i := len(m.Stages) - 1; i >= 1; i-- {
		st := m.Stages[i]
		switch st.Type {
		case "checksum":
			continue // download verifies the digest recorded in the manifest
		case "encrypt":
			s.undo = append(s.undo, undoStep{typ: "decrypt"})
		case "compress":
			alg, _ := st.Outputs["algorithm"].(string)
			if alg != steps.AlgorithmZstd && alg != steps.AlgorithmGzip {
				return nil, fmt.Errorf("manifest of %s: stage %q records algorithm %q, which is not zstd or gzip", objectURL, st.ID, fmt.Sprint(st.Outputs["algorithm"]))
			}
			s.undo = append(s.undo, undoStep{typ: "decompress", algorithm: alg})
		default:
			return nil, fmt.Errorf("manifest of %s: stage %q has type %q, which restore cannot invert", objectURL, st.ID, st.Type)
		}
	}
	return s, nil
}

// build returns the runnable plan: typed parameters, nothing interpolated.
func (s *restoreSpec) build(reg *runner.Registry, dsn string) (*runner.Plan, error) {
	var out []runner.BuiltStep
	add := func(typ string, set func(p any)) error {
		p, err := reg.NewParams(typ)
		if err != nil {
			return err
		}
		set(p)
		input := ""
		if len(out) > 0 {
			input = out[len(out)-1].ID
		}
		out = append(out, runner.BuiltStep{ID: typ, Type: typ, Input: input, Params: p})
		return nil
	}
	err := add("download", func(p any) {
		d := p.(*steps.Download)
		d.From, d.AllowUnsigned, d.Jobs = s.object, s.allowUnsigned, max(s.jobs, 1)
		if s.signers != "" {
			d.VerifyWith = signersKey
		}
	})
	for _, u := range s.undo {
		if err != nil {
			break
		}
		switch u.typ {
		case "decrypt":
			err = add("decrypt", func(p any) {
				d := p.(*steps.Decrypt)
				d.ExpectedKeyIDs = s.keyIDs
				if s.keyDir != "" {
					d.Key = storeKey
				} else {
					d.Identities = s.identities
				}
			})
		case "decompress":
			err = add("decompress", func(p any) { p.(*steps.Decompress).Algorithm = u.algorithm })
		}
	}
	if err == nil {
		err = add("restore", func(p any) {
			r := p.(*steps.Restore)
			r.URL, r.Format, r.Create, r.Clean = dsn, s.format, s.create, s.clean
			// One transaction, done when it commits: nothing is read back.
			r.SingleTransaction, r.SkipChecks = true, true
		})
	}
	if err != nil {
		return nil, err
	}
	return runner.Build("restore", "restore "+s.object+" (derived from its manifest)", s.keys(), out, reg)
}

func (s *restoreSpec) keys() map[string]runner.KeyConfig {
	ks := map[string]runner.KeyConfig{}
	if s.keyDir != "" {
		ks[storeKey] = runner.KeyConfig{Name: storeKey, Store: "dir", Path: s.keyDir}
	}
	if s.signers != "" {
		ks[signersKey] = runner.KeyConfig{Name: signersKey, Store: "dir", Path: s.signers}
	}
	if len(ks) == 0 {
		return nil
	}
	return ks
}

// checkKeys loads the keys the backup needs before anything runs: a missing
// key store or identity file fails here, naming the key ids the manifest
// records.
func (s *restoreSpec) checkKeys() error {
	if !slices.ContainsFunc(s.undo, func(u undoStep) bool { return u.typ == "decrypt" }) {
		return nil
	}
	var err error
	if s.keyDir != "" {
		_, err = agefile.StoreIdentities(s.keys()[storeKey], s.keyIDs)
	} else {
		_, err = agefile.FileIdentities(s.identities)
	}
	return err
}

// planYAML renders the pipeline as a plan file a user can review, commit and
// run, with the target as a secret param. A value holding ${{ is refused:
// loading the file would evaluate it.
func (s *restoreSpec) planYAML() ([]byte, error) {
	type step struct {
		Type  string         `yaml:"type"`
		Input string         `yaml:"input,omitempty"`
		With  map[string]any `yaml:"with,omitempty"`
	}
	download := map[string]any{"from": s.object}
	if s.signers != "" {
		download["verify_with"] = signersKey
	}
	if s.allowUnsigned {
		download["allow_unsigned"] = true
	}
	if s.jobs > 1 {
		download["jobs"] = s.jobs
	}
	stepsOut := map[string]step{"download": {Type: "download", With: download}}
	prev := "download"
	for _, u := range s.undo {
		st := step{Type: u.typ, Input: prev, With: map[string]any{}}
		if u.typ == "decrypt" {
			st.With["expected_key_ids"] = s.keyIDs
			if s.keyDir != "" {
				st.With["key"] = storeKey
			} else {
				st.With["identities"] = s.identities
			}
		} else {
			st.With["algorithm"] = u.algorithm
		}
		stepsOut[u.typ], prev = st, u.typ
	}
	with := map[string]any{"url": "${{ params.target }}", "format": s.format, "create": s.create, "skip_checks": true}
	if s.clean {
		with["clean"] = true
	}
	stepsOut["restore"] = step{Type: "restore", Input: prev, With: with}
	plan := map[string]any{
		"version":     1,
		"name":        "restore",
		"description": "restore " + s.object + " (derived from its manifest)",
		"params":      map[string]any{"target": map[string]any{"type": "string", "secret": true, "required": true}},
		"steps":       stepsOut,
	}
	ks := map[string]any{}
	if s.keyDir != "" {
		ks[storeKey] = map[string]any{"store": "dir", "path": s.keyDir}
	}
	if s.signers != "" {
		ks[signersKey] = map[string]any{"store": "dir", "path": s.signers}
	}
	if len(ks) > 0 {
		plan["keys"] = ks
	}
	for _, v := range append(append([]string{s.object, s.keyDir, s.signers, plan["description"].(string)}, s.keyIDs...), s.identities...) {
		if strings.Contains(v, "${{") {
			return nil, fmt.Errorf("cannot print the pipeline as a plan: %q holds ${{, which a plan would evaluate", v)
		}
	}
	return yaml.Marshal(plan)
}
