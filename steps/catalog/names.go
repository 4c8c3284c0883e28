package catalog

import (
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/manifest"
)

// How the catalogue tells sluice's files from anyone else's. A destination
// is often shared (a bucket, a home folder), so a cleanup may only remove
// names sluice writes:
//
//	NAME.manifest.json        the manifest: an object with one is a backup
//	NAME.sha256, NAME.sha512  checksum sidecars (sha256sum's format)
//	NAME.verified.json        a verify record
//	NAME.rewrap-journal.json  a key rotation's journal
//	NAME.sig, NAME.*.sig      a signature of the object or of one of its files
//	.NAME.sluice-tmp-RANDOM   a pending file (blob.File; never listed here)
//	NAME ending in ".age"     an encrypted object, as the upload step stores one
//	NAME.part-LABEL.age       a part of the backup NAME.age in parts (its
//	                          manifest, NAME.age.manifest.json, lists it)
//
// Without a manifest, an object is sluice's leftover when its name ends in
// ".age" or when a verify record or rewrap journal (names only sluice
// writes) lies next to it; its sidecars, records, journals and signatures
// go with it. A sidecar or signature alone proves nothing: sha256sum and gpg
// write the same names. Files of a sluice object that is gone (a prune
// stopped after removing it) are a leftover by the same rule. Every other
// file is Other: listed, never removed.

// Suffixes of the files sluice keeps next to an object NAME.
const (
	journalSuffix = ".rewrap-journal.json"
	sigSuffix     = ".sig"
	// encryptedSuffix ends the name of an object sluice stored encrypted.
	encryptedSuffix = ".age"
)

var (
	manifestSuffix = manifest.ManifestName("")
	// metaSuffixes name the files that belong to an object: they are never
	// listed as objects, and prune removes them with it.
	metaSuffixes = []string{manifestSuffix, RecordSuffix, journalSuffix, "." + manifest.SHA256, "." + manifest.SHA512, sigSuffix}
	// ownSuffixes are the meta suffixes no other tool writes.
	ownSuffixes = []string{RecordSuffix, journalSuffix}
)

// metaOwner returns the object a sluice-named file belongs to, and whether
// its name is one only sluice writes. A signature may sign another of the
// object's files (NAME.manifest.json.sig).
func metaOwner(name string) (owner string, own bool, ok bool) {
	for _, s := range metaSuffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			owner = strings.TrimSuffix(name, s)
			if s == sigSuffix {
				if o, own, ok := metaOwner(owner); ok {
					return o, own, true
				}
			}
			return owner, slices.Contains(ownSuffixes, s), true
		}
	}
	return "", false, false
}

// MetaOwner returns the object a file sluice keeps next to it belongs to
// (NAME for NAME.manifest.json, NAME.sha256, NAME.manifest.json.sig, ...),
// and whether name is such a file.
func MetaOwner(name string) (owner string, ok bool) {
	owner, _, ok = metaOwner(name)
	return owner, ok
}

// isEncryptedName tells whether an object's name is one sluice gives an
// encrypted backup.
func isEncryptedName(name string) bool {
	return strings.HasSuffix(name, encryptedSuffix) && len(name) > len(encryptedSuffix)
}

// sortLeftovers files every listed name that is not a backup's object or a
// manifest: a backup's sidecars, record and journal go to its Related, what
// sluice left without a manifest to Incomplete, the rest to Other. An
// object whose manifest exists but cannot be trusted is a Problem already:
// it and its files are left out.
func (c *Catalog) sortLeftovers(b blob.Backend, infos []blob.Info, byName map[string]blob.Info, backups, partOf map[string]int) {
	var objects []blob.Info
	metas := map[string][]blob.Info{} // by owner, each in name order
	var owners []string
	for _, in := range infos {
		if _, ok := backups[in.Name]; ok || strings.HasSuffix(in.Name, manifestSuffix) {
			continue
		}
		if _, ok := partOf[in.Name]; ok {
			continue
		}
		owner, _, ok := metaOwner(in.Name)
		if !ok {
			objects = append(objects, in)
			continue
		}
		if _, seen := metas[owner]; !seen {
			owners = append(owners, owner)
		}
		metas[owner] = append(metas[owner], in)
	}
	incomplete := map[string]int{}
	for _, in := range objects {
		switch {
		case exists(byName, manifest.ManifestName(in.Name)): // a Problem
		case partOfManifest(byName, in.Name): // a part of a Problem
		case isEncryptedName(in.Name) || hasOwn(metas[in.Name]):
			incomplete[in.Name] = len(c.Incomplete)
			c.Incomplete = append(c.Incomplete, Incomplete{Name: in.Name, URL: b.URL(in.Name), Size: in.Size, ModTime: in.ModTime})
		default:
			c.Other = append(c.Other, in)
		}
	}
	for _, owner := range owners {
		files := metas[owner]
		if i, ok := backups[owner]; ok {
			c.Backups[i].Related = append(c.Backups[i].Related, infoNames(files)...)
			continue
		}
		if i, ok := partOf[owner]; ok {
			c.Backups[i].Related = append(c.Backups[i].Related, infoNames(files)...)
			continue
		}
		if i, ok := incomplete[owner]; ok {
			c.Incomplete[i].Related = append(c.Incomplete[i].Related, infoNames(files)...)
			continue
		}
		switch {
		case exists(byName, manifest.ManifestName(owner)): // a Problem
		case partOfManifest(byName, owner): // a part of a Problem
		case !exists(byName, owner) && (isEncryptedName(owner) || hasOwn(files)):
			gone := Incomplete{Name: owner, URL: b.URL(owner), ObjectMissing: true, Related: infoNames(files)}
			for _, f := range files {
				gone.Size += f.Size
				if f.ModTime.After(gone.ModTime) {
					gone.ModTime = f.ModTime
				}
			}
			c.Incomplete = append(c.Incomplete, gone)
		default:
			c.Other = append(c.Other, files...)
		}
	}
	slices.SortFunc(c.Incomplete, func(a, b Incomplete) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(c.Other, func(a, b blob.Info) int { return strings.Compare(a.Name, b.Name) })
}

// hasOwn tells whether one of files has a name only sluice writes.
func hasOwn(files []blob.Info) bool {
	for _, f := range files {
		if _, own, _ := metaOwner(f.Name); own {
			return true
		}
	}
	return false
}

func infoNames(infos []blob.Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

// partOfManifest tells whether name is a part's name (manifest.PartName)
// of a backup whose manifest is there: a part of a complete backup, or of
// one whose manifest is a Problem, never a leftover. A manifest in parts
// only lists parts named so (manifest.Parse checks it), so the name says
// whose part an object is even when the manifest is not read (as when
// leftovers are looked for) or not trusted.
func partOfManifest(byName map[string]blob.Info, name string) bool {
	owner, _, ok := manifest.PartOwner(name)
	return ok && exists(byName, manifest.ManifestName(owner))
}
