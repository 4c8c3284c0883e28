// Package manifest describes a stored backup: what made it (plan, run,
// source, each pipeline stage and its settings, key ids) and what it should
// be (sizes, digest). The manifest is written last, next to the object: a
// backup without its manifest is not a backup.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runner"
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// Manifest is the JSON document stored as ManifestName(object).
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Plan          string    `json:"plan"`
	RunID         string    `json:"run_id"`
	Created       time.Time `json:"created"`
	// Object is the stored object's name, relative to the manifest's folder.
	Object string  `json:"object"`
	Source *Source `json:"source,omitempty"`
	// Stages are the stream's members, source first, with their outputs.
	Stages []Stage `json:"stages"`
	// PlaintextBytes is what the source produced (its bytes output); 0 when
	// unknown.
	PlaintextBytes int64 `json:"plaintext_bytes,omitempty"`
	StoredBytes    int64 `json:"stored_bytes"`
	// Digest is the digest of the stored bytes (the ciphertext when the
	// stream was encrypted); none for a backup in parts, whose parts have
	// one each.
	Digest *Digest `json:"digest,omitempty"`
	// Parts are the objects of a backup in parts (format 2), in restore
	// order; Object is then the backup's name, which no object has.
	Parts []Part `json:"parts,omitempty"`
}

// Source describes where the stream came from.
type Source struct {
	Step          string `json:"step"`
	Type          string `json:"type"`
	Engine        string `json:"engine,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
	Database      string `json:"database,omitempty"`
	Format        string `json:"format,omitempty"`
}

// Stage is one member of the stream. Only outputs are recorded: they carry
// algorithms, levels and key ids, never secrets.
type Stage struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Outputs map[string]any `json:"outputs,omitempty"`
}

// Input is what Build needs.
type Input struct {
	Plan        string
	RunID       string
	Created     time.Time // stored in UTC
	Object      string
	StoredBytes int64
	Upstream    []runner.Stage // source first
	Digest      *Digest        // digest of the stored bytes, if known
	// Parts, for a backup in parts, are its objects in restore order; the
	// manifest is then format 2, StoredBytes their sum and Digest unused.
	Parts []Part
	// Secrets are values that must not appear in the manifest; any output
	// string containing one is replaced by "[redacted]".
	Secrets []string
}

// Build assembles a manifest from a stream's stages.
func Build(in Input) *Manifest {
	m := &Manifest{
		FormatVersion: FormatVersion,
		Plan:          in.Plan,
		RunID:         in.RunID,
		Created:       in.Created.UTC(),
		Object:        in.Object,
		StoredBytes:   in.StoredBytes,
		Digest:        in.Digest,
		Stages:        make([]Stage, 0, len(in.Upstream)),
	}
	if len(in.Parts) > 0 {
		m.FormatVersion, m.Digest, m.Parts, m.StoredBytes = FormatParts, nil, in.Parts, 0
		for _, p := range in.Parts {
			m.StoredBytes += p.StoredBytes
		}
	}
	for _, st := range in.Upstream {
		m.Stages = append(m.Stages, Stage{ID: st.ID, Type: st.Type, Outputs: cleanOutputs(st.Outputs, in.Secrets)})
	}
	if len(in.Upstream) > 0 {
		src := in.Upstream[0]
		m.Source = &Source{
			Step:          src.ID,
			Type:          src.Type,
			ServerVersion: outString(src.Outputs, "server_version"),
			Database:      outString(src.Outputs, "database"),
			Format:        outString(src.Outputs, "format"),
		}
		if src.Type == "dump" {
			m.Source.Engine = "postgresql"
		}
		if n, ok := toInt64(src.Outputs["bytes"]); ok {
			m.PlaintextBytes = n
		}
	}
	return m
}

// cleanOutputs copies outputs into JSON-friendly values: durations become
// seconds and strings holding a secret are redacted.
func cleanOutputs(out runner.Outputs, secrets []string) map[string]any {
	if len(out) == 0 {
		return nil
	}
	clean := make(map[string]any, len(out))
	for k, v := range out {
		clean[k] = cleanValue(v, secrets)
	}
	return clean
}

func cleanValue(v any, secrets []string) any {
	switch v := v.(type) {
	case time.Duration:
		return v.Seconds()
	case string:
		for _, s := range secrets {
			if s != "" && strings.Contains(v, s) {
				return "[redacted]"
			}
		}
		return v
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cleanValue(e, secrets)
		}
		return c
	case []string:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cleanValue(e, secrets)
		}
		return c
	case map[string]any:
		return cleanOutputs(v, secrets)
	case runner.Outputs:
		return cleanOutputs(v, secrets)
	default:
		return v
	}
}

func outString(out runner.Outputs, name string) string {
	if s, ok := out[name].(string); ok {
		return s
	}
	return ""
}

// toInt64 converts the numeric types outputs use.
func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint64:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// Marshal renders the manifest as indented JSON ending in a newline.
func (m *Manifest) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return append(data, '\n'), nil
}

// Parse decodes a manifest and checks its format version and digest.
func Parse(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if m.Object == "" {
		return nil, errors.New("manifest has no object name")
	}
	switch m.FormatVersion {
	case FormatVersion:
		if m.InParts() {
			return nil, errors.New("manifest format_version 1 lists parts: only format 2 has parts")
		}
	case FormatParts:
		if err := m.checkParts(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("manifest format_version is %d: this sluice reads versions %d and %d only", m.FormatVersion, FormatVersion, FormatParts)
	}
	if m.Digest != nil {
		if err := m.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest digest: %w", err)
		}
	}
	return &m, nil
}

// MaxSize bounds what sluice reads as a manifest (and as any small file
// kept next to a backup). A manifest sluice writes is a few KiB; a larger
// one was stuffed by someone else and is refused before it is parsed.
const MaxSize = 256 << 10

// Read reads and parses a manifest from r (at most MaxSize bytes).
func Read(r io.Reader) (*Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("manifest is larger than %d KiB, which no manifest sluice writes is: repair or remove it", MaxSize>>10)
	}
	return Parse(data)
}

// ManifestName returns the name of an object's manifest.
func ManifestName(object string) string { return object + ".manifest.json" }

// SignatureName returns the name of the detached signature of an object's
// manifest (an armored sshsig over the manifest's exact bytes).
func SignatureName(object string) string { return ManifestName(object) + ".sig" }
