package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A backup in parts (a database dumped by several pg_dump processes from
// one snapshot) is several objects and one manifest. The manifest is named
// after the backup (NAME.manifest.json, format 2), though no object is
// called NAME: it lists the parts, each an object of its own named
// PartName(NAME, label) with its checksum sidecar, in restore order. The
// manifest is still written last and signed, and vouches for every part.

// FormatParts is the manifest format of a backup in parts; a backup of one
// object keeps FormatVersion.
const FormatParts = 2

// Part is one object of a backup in parts.
type Part struct {
	// Name is the object's name, in the manifest's folder: PartName of the
	// backup's name and a label.
	Name string `json:"name"`
	// Section is what the part holds of the dump: pre-data, data or
	// post-data (pg_dump's sections).
	Section string `json:"section,omitempty"`
	// RestorePhase orders the restore: every part of a phase is restored
	// before any of the next; the parts of one phase may be restored at
	// once.
	RestorePhase int `json:"restore_phase"`
	// Tables counts the tables whose rows the part holds, when it holds
	// chosen tables (0 for the schema and for the part of every other
	// table).
	Tables         int     `json:"tables,omitempty"`
	PlaintextBytes int64   `json:"plaintext_bytes,omitempty"`
	StoredBytes    int64   `json:"stored_bytes"`
	Digest         *Digest `json:"digest"`
}

// partInfix and encSuffix build part names: NAME.age has parts
// NAME.part-LABEL.age, any other NAME has NAME.part-LABEL.
const (
	partInfix = ".part-"
	encSuffix = ".age"
)

// PartName returns the name of a part of the backup object: the label
// (lower-case letters, digits and dashes, e.g. "03-data") goes before a
// final ".age", so that the part is named as an encrypted object too.
func PartName(object, label string) string {
	if base, ok := strings.CutSuffix(object, encSuffix); ok && base != "" {
		return base + partInfix + label + encSuffix
	}
	return object + partInfix + label
}

// PartOwner returns the backup a name made by PartName belongs to, and the
// part's label; ok is false for any other name.
func PartOwner(name string) (owner, label string, ok bool) {
	i := strings.LastIndex(name, partInfix)
	if i <= 0 {
		return "", "", false
	}
	label, ext, hasExt := strings.Cut(name[i+len(partInfix):], ".")
	switch {
	case !validLabel(label):
		return "", "", false
	case !hasExt:
		return name[:i], label, true
	case "."+ext == encSuffix:
		return name[:i] + encSuffix, label, true
	}
	return "", "", false
}

func validLabel(label string) bool {
	if label == "" || len(label) > 40 {
		return false
	}
	for _, c := range label {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// InParts tells whether the manifest is that of a backup in parts.
func (m *Manifest) InParts() bool { return len(m.Parts) > 0 }

// Objects returns the names of the backup's objects: its parts in restore
// order, or its one object.
func (m *Manifest) Objects() []string {
	if !m.InParts() {
		return []string{m.Object}
	}
	names := make([]string, len(m.Parts))
	for i, p := range m.Parts {
		names[i] = p.Name
	}
	return names
}

// Part returns the manifest of part i as if the part were a backup of one
// object: its name, sizes and digest, and the backup's stages (every part
// went through the same pipeline). Readers check each part through it.
func (m *Manifest) Part(i int) *Manifest {
	p := m.Parts[i]
	return &Manifest{FormatVersion: FormatVersion, Plan: m.Plan, RunID: m.RunID, Created: m.Created, Object: p.Name,
		Source: m.Source, Stages: m.Stages, PlaintextBytes: p.PlaintextBytes, StoredBytes: p.StoredBytes, Digest: p.Digest}
}

// BackupDigest returns the digest that names the backup's stored bytes: the
// object's, or for a backup in parts the SHA-256 of its parts' names and
// digests, one "NAME ALGORITHM:HEX" line each, in the manifest's order (it
// changes when any part does). Nil when the manifest records none.
func (m *Manifest) BackupDigest() *Digest {
	if !m.InParts() {
		return m.Digest
	}
	h := sha256.New()
	for _, p := range m.Parts {
		if p.Digest == nil {
			return nil
		}
		fmt.Fprintf(h, "%s %s\n", p.Name, p.Digest)
	}
	return &Digest{Algorithm: SHA256, Hex: hex.EncodeToString(h.Sum(nil))}
}

// checkParts checks a format 2 manifest's parts: each named after the
// backup (so that no manifest makes readers, or a prune, touch another
// backup's objects), once, with a digest, in restore order.
func (m *Manifest) checkParts() error {
	if !m.InParts() {
		return errors.New("manifest format_version 2 lists no parts")
	}
	if m.Digest != nil {
		return errors.New("manifest of a backup in parts records a digest of its own: each part has one")
	}
	seen := map[string]bool{}
	for i, p := range m.Parts {
		owner, _, ok := PartOwner(p.Name)
		switch {
		case !ok || owner != m.Object:
			return fmt.Errorf("part %q is not named after the backup %q (want %s)", p.Name, m.Object, PartName(m.Object, "LABEL"))
		case seen[p.Name]:
			return fmt.Errorf("part %q is listed twice", p.Name)
		case p.Digest == nil:
			return fmt.Errorf("part %q records no digest", p.Name)
		case p.RestorePhase < 0 || i > 0 && p.RestorePhase < m.Parts[i-1].RestorePhase:
			return fmt.Errorf("part %q is out of restore order", p.Name)
		}
		if err := p.Digest.Validate(); err != nil {
			return fmt.Errorf("part %q digest: %w", p.Name, err)
		}
		seen[p.Name] = true
	}
	return nil
}

// RestorePhases returns the indexes of the parts, grouped by restore
// phase, in order.
func (m *Manifest) RestorePhases() [][]int {
	var phases [][]int
	for i, p := range m.Parts {
		if i == 0 || p.RestorePhase != m.Parts[i-1].RestorePhase {
			phases = append(phases, nil)
		}
		phases[len(phases)-1] = append(phases[len(phases)-1], i)
	}
	return slices.Clip(phases)
}
