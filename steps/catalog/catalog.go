// Package catalog is the backups stored under a destination (a folder or a
// bucket prefix), read from their manifests: the complete backups (a
// bounded Summary of each), sluice's files that have no manifest
// (incomplete: an interrupted upload, or a prune that stopped half-way),
// the manifests that cannot be trusted, and the files sluice did not write
// (names.go says how it tells them apart).
//
// On it, the CLI and the steps share: verifying backups (VerifyDest) and
// the verify records that mark them verified (Record), retention (Policy,
// PruneDest) carried out in the order that keeps the catalogue consistent,
// removing leftovers (LeftoversDest) and adopting unsigned backups
// (AdoptUnsigned). Verifying is three checks, each with its own name: the
// signature check of a manifest (ReadManifest, Trust.CheckSignature; where
// a reader's Trust comes from: PlanTrust, PathTrust), the digest check of
// the stored bytes (CheckedObject, which the download step reads through
// too) and the content check (the stream decrypted and decompressed to its
// end, checkContent).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// Backup is one complete backup: an object together with its manifest, of
// which the catalogue keeps a Summary (LoadManifest reads the rest).
type Backup struct {
	Name    string // object name, relative to the catalogue's root
	URL     string
	Object  blob.Info
	Summary Summary
	KeyIDs  []string // key ids the manifest's encrypt stages recorded
	// Related are the other files of the backup besides the object and the
	// manifest: sidecars (its parts' too), verify record, rewrap journal.
	Related []string
	// Parts are the objects of a backup in parts, in restore order; nil
	// for a backup of one object. Object then stands for all of them: the
	// backup's name, their total size and latest time.
	Parts []blob.Info
	// Record is the backup's verify record when it has one that matches the
	// manifest's digest; a stale or unreadable record counts as none.
	Record *Record
	// Signature says how the manifest passed the signature gate.
	Signature Signature
}

// Created returns the creation time the manifest records.
func (b *Backup) Created() time.Time { return b.Summary.Created }

// Verified tells whether a verify record vouches for the backup as stored.
func (b *Backup) Verified() bool { return b.Record != nil }

// Incomplete is a leftover of sluice's (see names.go): an object without a
// manifest, or the files of one that is gone.
type Incomplete struct {
	Name    string
	URL     string
	Size    int64 // the object's; with ObjectMissing, its files' together
	ModTime time.Time
	Related []string // sidecars, records and journals left with it
	// ObjectMissing: the object is gone and only Related are left (a
	// prune stopped after removing it).
	ObjectMissing bool
}

// Problem kinds.
const (
	ProblemObjectMissing = "object-missing" // a manifest whose object is gone
	ProblemUnreadable    = "unreadable"     // a manifest that does not parse
	ProblemRenamed       = "renamed"        // a manifest that describes another object
	ProblemUnsigned      = "unsigned"       // a manifest without a signature, unsigned not allowed
	ProblemSignature     = "bad-signature"  // a signature that does not verify, or by an unknown key
	ProblemCopied        = "copied"         // one of several manifests of the same backup
)

// Problem is a manifest that does not describe a backup that is there.
type Problem struct {
	Manifest string // name of the manifest
	URL      string
	Kind     string
	Detail   string
}

// Object returns the name of the object the problem's manifest is for.
func (p Problem) Object() string { return strings.TrimSuffix(p.Manifest, manifestSuffix) }

// Catalog is what a destination holds.
type Catalog struct {
	Root       string   // URL of the root
	Backups    []Backup // oldest first: by created time, then name
	Incomplete []Incomplete
	Problems   []Problem
	// Other are the files sluice did not write (by the names in names.go):
	// listed, never removed.
	Other []blob.Info
}

// Read lists b's root and reads every manifest, through the signature gate
// (see ReadManifest), and every verify record, one at a time, keeping a
// Summary of each. Only a failure to list (or to read an existing file) is
// an error: a manifest that cannot be trusted (unsigned, badly signed,
// unreadable, renamed) becomes a Problem.
func Read(ctx context.Context, b blob.Backend, t Trust) (*Catalog, error) {
	infos, err := b.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing backups under %s: %w", b.URL(""), err)
	}
	byName := make(map[string]blob.Info, len(infos))
	for _, in := range infos {
		byName[in.Name] = in
	}
	c := &Catalog{Root: b.URL("")}
	var found []*Backup
	for _, in := range infos {
		if !strings.HasSuffix(in.Name, manifestSuffix) {
			continue
		}
		obj := strings.TrimSuffix(in.Name, manifestSuffix)
		bk, prob, err := readBackup(ctx, b, obj, byName, t)
		switch {
		case err != nil:
			return nil, fmt.Errorf("reading backups under %s: %w", b.URL(""), err)
		case prob != nil:
			c.Problems = append(c.Problems, *prob)
		default:
			found = append(found, bk)
		}
	}
	backups := map[string]int{}
	partOf := map[string]int{} // a part's name -> its backup's index
	for _, bk := range c.dropCopies(b, found) {
		backups[bk.Name] = len(c.Backups)
		for _, p := range bk.Parts {
			partOf[p.Name] = len(c.Backups)
		}
		c.Backups = append(c.Backups, *bk)
	}
	c.sortLeftovers(b, infos, byName, backups, partOf)
	for i := range c.Backups {
		c.Backups[i].Record = matchingRecord(ctx, b, &c.Backups[i], byName)
	}
	sort.SliceStable(c.Backups, func(i, j int) bool {
		a, b := c.Backups[i], c.Backups[j]
		if !a.Created().Equal(b.Created()) {
			return a.Created().Before(b.Created())
		}
		return a.Name < b.Name
	})
	return c, nil
}

// dropCopies returns the backups whose manifest no other one here
// duplicates, and files the others as Problems. A signature names the
// object but not its folder, so a genuine manifest copied next to junk
// under another folder passes the gate: counted, a copy with a greater name
// would take its backup's place in retention, and a prune would delete the
// genuine one. Copies of one backup (same run, object name and digest)
// are none of them listed, kept, restored or pruned until the copies are
// removed.
func (c *Catalog) dropCopies(b blob.Backend, found []*Backup) []*Backup {
	key := func(bk *Backup) string {
		d := ""
		if bk.Summary.Digest != nil {
			d = bk.Summary.Digest.String()
		}
		return bk.Summary.RunID + "\x00" + path.Base(bk.Name) + "\x00" + d
	}
	names := map[string][]string{}
	for _, bk := range found {
		names[key(bk)] = append(names[key(bk)], bk.Name)
	}
	var out []*Backup
	for _, bk := range found {
		same := names[key(bk)]
		if len(same) == 1 {
			out = append(out, bk)
			continue
		}
		mname := manifest.ManifestName(bk.Name)
		c.Problems = append(c.Problems, Problem{Manifest: mname, URL: b.URL(mname), Kind: ProblemCopied, Detail: fmt.Sprintf(
			"backup %s of run %s is described by %d manifests here (%s): a copy was put in this destination; remove the copies you did not make (until then none of them is listed, restored or pruned)",
			path.Base(bk.Name), bk.Summary.RunID, len(same), strings.Join(same, ", "))})
	}
	return out
}

// readBackup reads the manifest of obj: the backup it describes, or the
// Problem that keeps it from being one.
func readBackup(ctx context.Context, b blob.Backend, obj string, byName map[string]blob.Info, t Trust) (*Backup, *Problem, error) {
	prob := &Problem{Manifest: manifest.ManifestName(obj), URL: b.URL(manifest.ManifestName(obj))}
	signed, err := ReadManifest(ctx, b, obj, t)
	var ue *UntrustedError
	var se *SignatureError
	switch {
	case errors.As(err, &se):
		prob.Kind, prob.Detail = se.Kind, se.Detail
		return nil, prob, nil
	case errors.As(err, &ue):
		prob.Kind, prob.Detail = ue.Kind, ue.Detail
		return nil, prob, nil
	case err != nil:
		return nil, nil, err
	}
	m := signed.Manifest
	bk := &Backup{Name: obj, URL: b.URL(obj), Object: byName[obj], Summary: Summarize(m), KeyIDs: KeyIDs(m), Signature: signed.Signature}
	if !m.InParts() {
		if !exists(byName, obj) {
			prob.Kind, prob.Detail = ProblemObjectMissing, "its object "+b.URL(obj)+" is missing"
			return nil, prob, nil
		}
		return bk, nil, nil
	}
	bk.Object = blob.Info{Name: obj}
	for _, name := range m.Objects() {
		in, ok := byName[PartPath(obj, name)]
		if !ok {
			prob.Kind, prob.Detail = ProblemObjectMissing, "its part "+b.URL(PartPath(obj, name))+" is missing"
			return nil, prob, nil
		}
		bk.Parts = append(bk.Parts, in)
		bk.Object.Size += in.Size
		if in.ModTime.After(bk.Object.ModTime) {
			bk.Object.ModTime = in.ModTime
		}
	}
	return bk, nil, nil
}

// PartPath returns the catalogue name of part (a name in its manifest,
// relative to the manifest's folder) of the backup named backup.
func PartPath(backup, part string) string {
	if dir := path.Dir(backup); dir != "." {
		return dir + "/" + part
	}
	return part
}

// PartNames returns the names of bk's objects: its parts, or its object.
func (bk *Backup) PartNames() []string {
	if bk.Parts == nil {
		return []string{bk.Name}
	}
	names := make([]string, len(bk.Parts))
	for i, p := range bk.Parts {
		names[i] = p.Name
	}
	return names
}

// matchingRecord returns bk's verify record when it vouches for bk. A
// record sluice writes is well under MaxSummary; a larger one is not
// sluice's and, like a stale or unreadable one, counts as none.
func matchingRecord(ctx context.Context, b blob.Backend, bk *Backup, byName map[string]blob.Info) *Record {
	in, ok := byName[RecordName(bk.Name)]
	if !ok || in.Size > MaxSummary {
		return nil
	}
	rec, err := ReadRecord(ctx, b, bk.Name)
	if err != nil || !rec.Matches(bk) {
		return nil
	}
	return rec
}

func exists(byName map[string]blob.Info, name string) bool {
	_, ok := byName[name]
	return ok
}

// Latest returns the newest backup (ties go to the greater name).
func (c *Catalog) Latest() (*Backup, bool) {
	if len(c.Backups) == 0 {
		return nil, false
	}
	return &c.Backups[len(c.Backups)-1], true
}

// Series names what backups are of: the plan that made them and the
// database they hold. An empty field matches any.
type Series struct {
	Plan, Database string
}

func (s Series) matches(bk *Backup) bool {
	return (s.Plan == "" || bk.Summary.Plan == s.Plan) && (s.Database == "" || bk.Summary.Database == s.Database)
}

// Newest reads b's catalogue through the gate t and returns the newest
// complete backup that s selects (see Latest), with the manifests whose
// object is missing, which it ignored. Objects without a manifest are
// incomplete and ignored too. A manifest that cannot be read or does not
// pass the signature gate is an error rather than a reason to pick an
// older backup silently. So is a folder whose selected backups are of
// several databases: the newest of them may be another database's (a
// fleet's shared folder, or a copy someone put there).
func Newest(ctx context.Context, b blob.Backend, t Trust, s Series) (*Backup, []Problem, error) {
	c, err := Read(ctx, b, t)
	if err != nil {
		return nil, nil, fmt.Errorf("finding the newest backup: %w", err)
	}
	var skipped []Problem
	for _, p := range c.Problems {
		if p.Kind != ProblemObjectMissing {
			return nil, nil, fmt.Errorf("finding the newest backup: manifest %s: %s", p.URL, p.Detail)
		}
		skipped = append(skipped, p)
	}
	var best *Backup
	var series []string
	for i := range c.Backups {
		bk := &c.Backups[i]
		if !s.matches(bk) {
			continue
		}
		best = bk // oldest first: the last match is the newest
		if name := fmt.Sprintf("database %q", bk.Summary.Database); !slices.Contains(series, name) {
			series = append(series, name)
		}
	}
	if len(series) > 1 {
		return nil, skipped, fmt.Errorf("finding the newest backup under %s: it holds backups of %s: set database: to say which", b.URL(""), strings.Join(series, ", "))
	}
	if best == nil {
		note := ""
		if len(skipped) > 0 {
			note = fmt.Sprintf(" (%d manifest(s) without their object were ignored)", len(skipped))
		}
		if s != (Series{}) && len(c.Backups) > 0 {
			return nil, skipped, fmt.Errorf("no backup of database %q by plan %q under %s (empty means any); its backups are of other databases or plans", s.Database, s.Plan, b.URL(""))
		}
		return nil, skipped, fmt.Errorf("no complete backup under %s: no object there has its manifest (NAME.manifest.json)%s; check the folder, or run a backup first", b.URL(""), note)
	}
	return best, skipped, nil
}

// Find returns the backup whose object is name.
func (c *Catalog) Find(name string) (*Backup, bool) {
	for i := range c.Backups {
		if c.Backups[i].Name == name {
			return &c.Backups[i], true
		}
	}
	return nil, false
}

// NewestVerified returns the newest backup with a matching verify record.
func (c *Catalog) NewestVerified() (*Backup, bool) {
	for i := len(c.Backups) - 1; i >= 0; i-- {
		if c.Backups[i].Verified() {
			return &c.Backups[i], true
		}
	}
	return nil, false
}

// KeyIDs returns the key ids the manifest's encrypt stages recorded, in
// order and without duplicates.
func KeyIDs(m *manifest.Manifest) []string {
	ids := []string{}
	seen := map[string]bool{}
	for _, st := range m.Stages {
		if st.Type != "encrypt" {
			continue
		}
		list, _ := st.Outputs["key_ids"].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" && !seen[s] {
				seen[s] = true
				ids = append(ids, s)
			}
		}
	}
	return ids
}
